package org.peft4j.examples.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.peft4j.api.backend.Backend;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.models.task.Classifiers;
import org.peft4j.models.io.ModelFolder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code peft merge}: folds an adapter into the model's weights and writes a plain Hugging Face
 * model folder, which {@code --model DIR} (and HF transformers) load without any adapter.
 */
@Command(name = "merge", mixinStandardHelpOptions = true,
        description = "Merge an adapter into the base weights and write a Hugging Face model folder.")
final class MergeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--adapter", required = true, description = "Adapter folder to merge")
    Path adapter;

    @Option(names = "--out", required = true, description = "Folder for the merged model")
    Path out;

    @Override
    public Integer call() throws Exception {
        ModelOptions.requireAdapterDir(adapter, "--adapter");
        if (out.toAbsolutePath().normalize().equals(adapter.toAbsolutePath().normalize())) {
            throw new PeftCli.UsageException("--out must differ from --adapter");
        }
        PretrainedEncoder encoder = modelOptions.encoder();
        AdapterFiles.Loaded loaded;
        try (Wiring wiring = modelOptions.wiring()) {
            loaded = wiring.readAdapter(adapter);
            Classifiers.Loaded model = Classifiers.load(encoder, wiring.factory(), loaded, 2);
            model.peft().mergeAndUnload();
            ModelFolder.writeClassifier(out, encoder, model.net());
        }
        new Report().put("method", loaded.config().peftType()).put("model_dir", out.toString())
                .put("model_bytes", Files.size(out.resolve("model.safetensors"))).print(spec.commandLine().getOut());
        return 0;
    }
}
