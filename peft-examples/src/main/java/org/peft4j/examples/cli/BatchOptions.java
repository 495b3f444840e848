package org.peft4j.examples.cli;

import picocli.CommandLine.Option;

/** {@code --batch-size} and {@code --max-length}, each command with its own defaults (the field values it starts with). */
final class BatchOptions {
    @Option(names = "--batch-size", description = "Examples per batch. Default: ${DEFAULT-VALUE}")
    int batchSize;

    @Option(names = "--max-length", description = "Longest token sequence. Default: ${DEFAULT-VALUE}")
    int maxLength;

    BatchOptions(int batchSize, int maxLength) {
        this.batchSize = batchSize;
        this.maxLength = maxLength;
    }
}
