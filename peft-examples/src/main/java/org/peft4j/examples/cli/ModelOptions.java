package org.peft4j.examples.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.models.PretrainedEncoder;
import picocli.CommandLine.Option;

/** The flags every model command shares: which model, which backend. */
final class ModelOptions {
    @Option(names = "--model", defaultValue = "minilm",
            description = "'minilm' (bundled all-MiniLM-L6-v2), a Hugging Face model folder, or a model id (org/name) in the local Hugging Face cache. Default: ${DEFAULT-VALUE}")
    String model;

    @Option(names = "--backend", description = "Tensor backend (djl, nd4j). Default: system property peft.backend or djl")
    String backend;

    @Option(names = "--max-adapter-elements",
            description = "Refuse an adapter whose tensors hold more elements than this. Default: the base model's size")
    Long maxAdapterElements;

    /** The object graph on the chosen backend (unknown: fails listing the installed backends); the caller closes it. */
    Wiring wiring() {
        return Wiring.of(backend, maxAdapterElements);
    }

    /** The model, loaded from the bundled artifact or a folder. */
    PretrainedEncoder encoder() {
        return PretrainedEncoder.load(model);
    }

    static void requireFile(Path file, String flag) {
        if (!Files.isRegularFile(file)) {
            throw new PeftCli.UsageException(flag + " file not found: " + file);
        }
    }

    static void requireAdapterDir(Path dir, String flag) {
        if (!Files.isRegularFile(dir.resolve(AdapterFiles.CONFIG_FILE))) {
            throw new PeftCli.UsageException(flag + " " + dir + " is not an adapter folder (no "
                    + AdapterFiles.CONFIG_FILE + ")");
        }
    }
}
