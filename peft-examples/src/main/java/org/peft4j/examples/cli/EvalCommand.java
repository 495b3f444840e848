package org.peft4j.examples.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.peft4j.api.backend.Backend;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.models.task.Classifiers;
import org.peft4j.models.data.TextDataset;
import org.peft4j.models.task.TextClassifier;
import org.peft4j.models.text.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code peft eval}: accuracy and loss of a classifier on a labelled file: the model with an
 * adapter folder, or a model folder with its own head (merged or fully fine-tuned).
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Evaluate a classifier (model plus adapter, or a merged model folder) on a labelled file.")
final class EvalCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    BatchOptions batching = new BatchOptions(64, 64);

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    DataOptions dataOptions;

    @Option(names = "--adapter", description = "Adapter folder written by 'peft train' or HF PEFT (omit for a merged model folder)")
    Path adapter;

    @Option(names = "--eval", defaultValue = "data/sst2/dev.tsv", description = "Evaluation data. Default: ${DEFAULT-VALUE}")
    Path eval;

    @Override
    public Integer call() {
        if (adapter != null) {
            ModelOptions.requireAdapterDir(adapter, "--adapter");
        }
        TextDataset data = dataOptions.read(eval, "--eval");
        PretrainedEncoder encoder = modelOptions.encoder();
        try (Wiring wiring = modelOptions.wiring(); Tokenizer tokenizer = encoder.tokenizer()) {
            AdapterFiles.Loaded loaded = adapter == null ? null : wiring.readAdapter(adapter);
            Backend b = wiring.backend();
            Classifiers.Loaded model = Classifiers.load(encoder, wiring.factory(), loaded, data.numLabels());
            TextClassifier classifier = new TextClassifier(model.net(), tokenizer, batching.maxLength);
            long start = System.nanoTime();
            TextClassifier.Evaluation ev = classifier.evaluate(data.examples(), batching.batchSize);
            double seconds = (System.nanoTime() - start) / 1e9;
            new Report().put("model", encoder.name()).put("backend", b.name())
                    .put("method", loaded == null ? "none" : loaded.config().peftType())
                    .evaluation(ev, seconds).parameters(model.count())
                    .put("train_seconds", 0.0).put("examples_per_second", ev.examples() / seconds)
                    .print(spec.commandLine().getOut());
        }
        return 0;
    }
}
