package org.peft4j.examples.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.peft4j.api.backend.Backend;
import org.peft4j.core.io.PeftJson;
import org.peft4j.spark.EmbeddingJob;
import org.peft4j.spark.SparkEmbeddings;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.models.task.Classifiers;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.task.SentenceEmbedder;
import org.peft4j.models.text.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code peft embed}: the sentence embedding (mean-pooled, L2-normalised last hidden state, as
 * sentence-transformers computes it) of each {@code --text}, one JSON array of floats per line.
 */
@Command(name = "embed", mixinStandardHelpOptions = true,
        description = "Print sentence embeddings, one JSON array per --text, in order; or, with --spark, embed a whole "
                + "JSON Lines or Parquet file into a new folder.")
final class EmbedCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--text", description = "Text to embed (repeat for several)")
    List<String> texts;

    @Option(names = "--spark", paramLabel = "MASTER",
            description = "Embed a whole file on Apache Spark (for example local[2]) instead of --text; needs --input and --output")
    String spark;

    @Option(names = "--input", description = "With --spark: JSON Lines (.jsonl/.json) or Parquet (.parquet) with a text column")
    Path input;

    @Option(names = "--output", description = "With --spark: a new folder for the rows with an 'embedding' column, in the input's format")
    Path output;

    @Option(names = "--text-column", defaultValue = "text", description = "With --spark: the column to embed. Default: ${DEFAULT-VALUE}")
    String textColumn;

    @Option(names = "--adapter", description = "Adapter folder to apply to the encoder first")
    Path adapter;

    @Option(names = "--max-length", defaultValue = "256", description = "Longest token sequence. Default: ${DEFAULT-VALUE}")
    int maxLength;

    @Override
    public Integer call() {
        if (adapter != null) {
            ModelOptions.requireAdapterDir(adapter, "--adapter");
        }
        if (spark != null) {
            return embedOnSpark();
        }
        if (texts == null || texts.isEmpty()) {
            throw new PeftCli.UsageException("give --text (repeat for several), or --spark MASTER --input FILE --output DIR");
        }
        PretrainedEncoder encoder = modelOptions.encoder();
        PrintWriter out = spec.commandLine().getOut();
        try (Wiring wiring = modelOptions.wiring(); Tokenizer tokenizer = encoder.tokenizer()) {
            AdapterFiles.Loaded loaded = adapter == null ? null : wiring.readAdapter(adapter);
            Backend b = wiring.backend();
            BertModel bert = loaded == null ? encoder.build(b)
                    : Classifiers.load(encoder, wiring.factory(), loaded, 2).net().bert();
            for (float[] v : new SentenceEmbedder(bert, tokenizer, maxLength, 32).embed(texts)) {
                StringBuilder line = new StringBuilder("[");
                for (int j = 0; j < v.length; j++) {
                    line.append(j == 0 ? "" : ",").append(v[j]);
                }
                out.println(line.append(']'));
            }
            out.flush();
        }
        return 0;
    }

    /** The embedding of every row of {@code --input}, written to {@code --output} by Spark; prints the row count. */
    private int embedOnSpark() {
        if (input == null || output == null || texts != null) {
            throw new PeftCli.UsageException("--spark embeds a file: give --input FILE and --output DIR, and no --text");
        }
        if (!java.nio.file.Files.exists(input)) {
            throw new PeftCli.UsageException("--input file not found: " + input);
        }
        if (java.nio.file.Files.exists(output)) {
            throw new PeftCli.UsageException("--output " + output + " exists; give a new folder (nothing is overwritten)");
        }
        boolean parquet = input.toString().endsWith(".parquet");
        String backendName = modelOptions.backend != null ? modelOptions.backend : org.peft4j.core.Peft.defaultBackendName();
        org.peft4j.core.Peft.registry().backend(backendName); // an unknown name fails here, in one line
        EmbeddingJob job = new EmbeddingJob(modelOptions.model, backendName,
                adapter == null ? null : adapter.toAbsolutePath().toString(), maxLength, 32);
        SparkSession session = SparkSession.builder().master(spark).appName("peft embed")
                .config("spark.ui.enabled", "false").getOrCreate();
        try {
            Dataset<Row> rows = parquet ? session.read().parquet(input.toString()) : session.read().json(input.toString());
            Dataset<Row> embedded = SparkEmbeddings.embed(rows, textColumn, "embedding", job).cache();
            long count = embedded.count();
            if (parquet) {
                embedded.write().parquet(output.toString());
            } else {
                embedded.write().json(output.toString());
            }
            PrintWriter out = spec.commandLine().getOut();
            out.println("{\"rows\":" + count + ",\"output\":" + PeftJson.mapper().valueToTree(output.toString()) + "}");
            out.flush();
        } finally {
            session.stop();
        }
        return 0;
    }
}
