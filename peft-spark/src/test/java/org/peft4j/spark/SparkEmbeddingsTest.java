package org.peft4j.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModel;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.models.task.Classifiers;
import org.peft4j.models.task.SentenceEmbedder;
import org.peft4j.models.text.Tokenizer;
import org.peft4j.testkit.Reference;

/** A Dataset of texts gets the embeddings {@code peft embed} prints, base model and adapter, on local[2]. */
class SparkEmbeddingsTest {
    @TempDir
    Path dir;

    @Test
    void anEmbeddingColumnHoldsWhatPeftEmbedComputes() {
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 11; i++) {
            texts.add("review number " + i + (i % 2 == 0 ? ": a warm, funny film" : ": dull and far too long"));
        }
        float[][] expected;
        try (Backend b = Peft.backend("djl"); Tokenizer tok = PretrainedEncoder.load("minilm").tokenizer()) {
            PretrainedEncoder encoder = PretrainedEncoder.load("minilm");
            PeftModel peft = Peft.factory(b).create(encoder.classifier(b, 2, 3), 3);
            peft.addAdapter("default", LoraConfig.builder().r(4).targetModules("query", "value")
                    .initLoraWeights(LoraConfig.InitLoraWeights.RANDOM).build());
            peft.save(dir, "default");
            var bert = Classifiers.load(encoder, Peft.factory(b), AdapterFiles.load(dir, Peft.registry()), 2).net().bert();
            expected = new SentenceEmbedder(bert, tok, 256, 1).embed(texts);
        }
        SparkSession spark = SparkSession.builder().master("local[2]").appName("peft4j-embed-test")
                .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1").getOrCreate();
        try {
            StructType schema = new StructType().add("id", DataTypes.IntegerType).add("text", DataTypes.StringType);
            List<Row> rows = new ArrayList<>();
            for (int i = 0; i < texts.size(); i++) {
                rows.add(RowFactory.create(i, texts.get(i)));
            }
            Dataset<Row> df = spark.createDataFrame(rows, schema).repartition(3);
            Dataset<Row> out = SparkEmbeddings.embed(df, "text", "embedding",
                    new EmbeddingJob("minilm", "djl", dir.toString(), 256, 4));
            List<Row> got = out.collectAsList();
            assertThat(got).hasSize(texts.size());
            for (Row r : got) {
                int id = r.getInt(0);
                assertThat(r.getString(1)).isEqualTo(texts.get(id));
                List<Float> v = r.getList(2);
                float[] vector = new float[v.size()];
                for (int j = 0; j < vector.length; j++) {
                    vector[j] = v.get(j);
                }
                assertThat(Reference.maxAbsDiff(vector, expected[id])).as("row " + id).isLessThan(1e-5f);
            }
            assertThatThrownBy(() -> SparkEmbeddings.embed(df, "body", "embedding",
                    new EmbeddingJob("minilm", "djl", null, 256, 4))).isInstanceOf(PeftException.class)
                    .hasMessageContaining("no column 'body'").hasMessageContaining("text");
        } finally {
            spark.stop();
        }
    }
}
