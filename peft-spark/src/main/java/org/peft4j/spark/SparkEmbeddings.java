package org.peft4j.spark;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.core.Peft;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.task.Classifiers;
import org.peft4j.models.task.SentenceEmbedder;
import org.peft4j.models.text.Tokenizer;

/**
 * Batch inference on Spark: adds a sentence-embedding column to a {@code Dataset<Row>} of texts,
 * with the base model and an optional adapter loaded once per executor JVM (one per concurrently
 * running task). Each vector is what {@code peft embed} prints for the same model, adapter and
 * text (mean-pooled, L2-normalised).
 *
 * <pre>{@code
 * Dataset<Row> withVectors = SparkEmbeddings.embed(texts, "text", "embedding",
 *         new EmbeddingJob("minilm", "djl", "runs/sentiment", 256, 32));
 * }</pre>
 */
public final class SparkEmbeddings {
    private static final ExecutorPool<EmbeddingJob, SentenceEmbedder> EMBEDDERS = new ExecutorPool<>(SparkEmbeddings::load);

    private SparkEmbeddings() {
    }

    /**
     * {@code input} with a new column {@code outputColumn} ({@code array<float>}) holding the
     * embedding of {@code textColumn}; rows keep their order within each partition. A null text
     * fails the task with a message naming the column.
     */
    public static Dataset<Row> embed(Dataset<Row> input, String textColumn, String outputColumn, EmbeddingJob job) {
        StructType schema = input.schema();
        int textIndex;
        try {
            textIndex = schema.fieldIndex(textColumn);
        } catch (IllegalArgumentException e) {
            throw new PeftException("no column '" + textColumn + "'; columns: " + List.of(schema.fieldNames()));
        }
        if (!schema.fields()[textIndex].dataType().equals(DataTypes.StringType)) {
            throw new PeftException("column '" + textColumn + "' holds " + schema.fields()[textIndex].dataType()
                    + ", not strings");
        }
        if (List.of(schema.fieldNames()).contains(outputColumn)) {
            throw new PeftException("column '" + outputColumn + "' exists already; pick another output column");
        }
        StructType out = schema.add(new StructField(outputColumn, DataTypes.createArrayType(DataTypes.FloatType, false),
                false, org.apache.spark.sql.types.Metadata.empty()));
        MapPartitionsFunction<Row, Row> embedPartition = rows -> embedAll(rows, textIndex, textColumn, job);
        return input.mapPartitions(embedPartition, Encoders.row(out));
    }

    private static Iterator<Row> embedAll(Iterator<Row> rows, int textIndex, String textColumn, EmbeddingJob job) {
        return EMBEDDERS.with(job, embedder -> {
            List<Row> out = new ArrayList<>();
            List<Row> batch = new ArrayList<>();
            while (rows.hasNext()) {
                batch.add(rows.next());
                if (batch.size() == job.batchSize() || !rows.hasNext()) {
                    List<String> texts = new ArrayList<>(batch.size());
                    for (Row r : batch) {
                        if (r.isNullAt(textIndex)) {
                            throw new PeftException("column '" + textColumn + "' is null in a row: " + r);
                        }
                        texts.add(r.getString(textIndex));
                    }
                    float[][] vectors = embedder.embed(texts);
                    for (int i = 0; i < batch.size(); i++) {
                        Object[] values = new Object[batch.get(i).length() + 1];
                        for (int c = 0; c < values.length - 1; c++) {
                            values[c] = batch.get(i).get(c);
                        }
                        Float[] boxed = new Float[vectors[i].length];
                        for (int j = 0; j < boxed.length; j++) {
                            boxed[j] = vectors[i][j];
                        }
                        values[values.length - 1] = boxed;
                        out.add(RowFactory.create(values));
                    }
                    batch.clear();
                }
            }
            return out.iterator();
        });
    }

    /** The executor's embedder for {@code job}; it lives as long as the JVM. */
    private static SentenceEmbedder load(EmbeddingJob job) {
        Backend backend = Peft.backend(job.backend());
        PretrainedEncoder encoder = PretrainedEncoder.load(job.model());
        BertModel bert = job.adapter() == null ? encoder.build(backend)
                : Classifiers.load(encoder, Peft.factory(backend), AdapterFiles.load(Path.of(job.adapter()),
                        Peft.registry()), 2).net().bert();
        Tokenizer tokenizer = encoder.tokenizer();
        return new SentenceEmbedder(bert, tokenizer, job.maxLength(), job.batchSize());
    }
}
