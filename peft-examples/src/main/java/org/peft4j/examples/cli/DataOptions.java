package org.peft4j.examples.cli;

import java.nio.file.Path;
import org.peft4j.models.data.TextDataset;
import picocli.CommandLine.Option;

/** Which columns of a data file hold the text, the optional second text and the label. */
final class DataOptions {
    @Option(names = "--text-column", defaultValue = "sentence", description = "Default: ${DEFAULT-VALUE}")
    String textColumn;

    @Option(names = "--pair-column", description = "Second text column, for sentence pairs")
    String pairColumn;

    @Option(names = "--label-column", defaultValue = "label", description = "Default: ${DEFAULT-VALUE}")
    String labelColumn;

    /** Reads a .tsv, .csv or .jsonl file after checking that it exists. */
    TextDataset read(Path file, String flag) {
        ModelOptions.requireFile(file, flag);
        return TextDataset.read(file, textColumn, pairColumn, labelColumn);
    }
}
