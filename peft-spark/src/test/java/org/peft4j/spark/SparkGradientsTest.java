package org.peft4j.spark;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModel;
import org.peft4j.core.io.HostTensor;
import org.peft4j.core.io.PeftJson;
import org.peft4j.core.io.Safetensors;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.models.WeightMap;
import org.peft4j.models.bert.BertConfig;
import org.peft4j.models.bert.BertForSequenceClassification;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.data.Example;
import org.peft4j.models.task.TextClassifier;
import org.peft4j.models.text.Tokenizer;
import org.peft4j.testkit.TinyGpt2;
import org.peft4j.train.LrSchedule;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingOptions;

/**
 * Data-parallel training on Spark {@code local[2]}: with dropout 0, K steps with the global batch
 * split over 2 tasks give the adapter one process gives on the same batches; a task that fails
 * once is retried and changes nothing.
 */
class SparkGradientsTest {
    private static final String LORA = "{\"peft_type\": \"LORA\", \"task_type\": \"SEQ_CLS\", \"r\": 4, \"lora_alpha\": 8,"
            + " \"lora_dropout\": 0.0, \"target_modules\": [\"query\", \"value\"], \"init_lora_weights\": false}";
    private static final int STEPS = 4;

    @TempDir
    static Path dir;
    private static Path model;
    private static List<List<Example>> batches;
    private JavaSparkContext sc;

    /** A tiny BERT folder without dropout (so the split cannot change the result) and a word-level tokenizer. */
    @BeforeAll
    static void tinyBert() throws Exception {
        model = Files.createDirectories(dir.resolve("tiny-bert"));
        BertConfig config = new BertConfig(64, 32, 2, 4, 64, "gelu", 32, 2, 1e-12, 0.0, 0.0);
        Map<String, HostTensor> weights = new LinkedHashMap<>();
        try (Backend b = Peft.backend("djl")) {
            new BertModel(WeightMap.random(b, 11), config).namedParameters()
                    .forEach((k, p) -> weights.put(k, HostTensor.of(p.value())));
        }
        Safetensors.write(model.resolve("model.safetensors"), weights, Map.of("format", "pt"));
        ObjectNode json = PeftJson.mapper().valueToTree(config);
        json.put("model_type", "bert");
        Files.writeString(model.resolve("config.json"), json.toPrettyString());
        TinyGpt2.writeTokenizer(model);
        Random r = new Random(5);
        batches = new ArrayList<>();
        for (int s = 0; s < STEPS; s++) {
            List<Example> batch = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                StringBuilder text = new StringBuilder();
                for (int w = 0; w < 3 + r.nextInt(8); w++) {
                    text.append(TinyGpt2.WORDS[r.nextInt(TinyGpt2.WORDS.length)]).append(' ');
                }
                batch.add(new Example(text.toString().trim(), null, r.nextInt(2)));
            }
            batches.add(batch);
        }
    }

    @AfterEach
    void stopSpark() {
        Worker.beforeTask = () -> { };
        if (sc != null) {
            sc.stop();
        }
    }

    private static TrainingOptions options() {
        return new TrainingOptions(1, STEPS, 5e-2f, 0.01f, 0.25f, LrSchedule.LINEAR, 1.0f, 1, 42, 1);
    }

    private static ClassifierJob job(String config) {
        return new ClassifierJob(model.toString(), "djl", config, 2, 42, 32, null);
    }

    /** The adapter after {@link #STEPS} steps, trained with {@code spark} or (null) in this process. */
    private Map<String, float[]> train(JavaSparkContext spark) {
        return train(spark, LORA);
    }

    private Map<String, float[]> train(JavaSparkContext spark, String config) {
        try (Backend b = Peft.backend("djl"); Tokenizer tok = PretrainedEncoder.load(model.toString()).tokenizer()) {
            BertForSequenceClassification net = PretrainedEncoder.load(model.toString()).classifier(b, 2, 42);
            PeftModel peft = Peft.factory(b).create(net, 42);
            peft.addAdapter("default", Peft.registry().parseConfig(config));
            Trainer<List<Example>> trainer = new Trainer<>(net, options());
            if (spark == null) {
                TextClassifier classifier = new TextClassifier(net, tok, 32);
                trainer.train(e -> batches, classifier::loss, List::size, (s, t, l, lr, n) -> { });
            } else {
                SparkGradients source = new SparkGradients(spark, job(config), net.trainableParameters(), 2);
                assertThat(source.bytesPerStep()).isEqualTo(peft.parameterCount().trainable() * 4 * 3);
                trainer.train(e -> batches, source, List::size, (s, t, l, lr, n) -> { });
            }
            Map<String, float[]> out = new LinkedHashMap<>();
            for (Map.Entry<String, Parameter> e : net.trainableParameters().entrySet()) {
                out.put(e.getKey(), e.getValue().value().toFloatArray());
            }
            return out;
        }
    }

    private static JavaSparkContext spark(String master) {
        return new JavaSparkContext(new SparkConf().setMaster(master).setAppName("peft4j-test")
                .set("spark.ui.enabled", "false").set("spark.driver.host", "127.0.0.1")
                .set("spark.driver.bindAddress", "127.0.0.1"));
    }

    private static void assertSameAdapter(Map<String, float[]> got, Map<String, float[]> expected) {
        assertThat(got.keySet()).isEqualTo(expected.keySet());
        boolean moved = false;
        for (String k : expected.keySet()) {
            float[] a = got.get(k);
            float[] e = expected.get(k);
            double diff = 0;
            double norm = 0;
            for (int i = 0; i < e.length; i++) {
                diff += (a[i] - e[i]) * (double) (a[i] - e[i]);
                norm += e[i] * (double) e[i];
            }
            // relative to the tensor's norm: the batch is padded per task, so sums run in another order
            assertThat(Math.sqrt(diff / Math.max(norm, 1e-30))).as(k + ": relative difference").isLessThan(1e-5);
        }
        for (float[] v : expected.values()) {
            for (float x : v) {
                moved |= x != 0;
            }
        }
        assertThat(moved).isTrue();
    }

    @Test
    void twoPartitionsOnSparkGiveTheAdapterOneProcessGives() {
        Map<String, float[]> single = train(null);
        sc = spark("local[2]");
        assertSameAdapter(train(sc), single);
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {
        "{\"peft_type\": \"IA3\", \"task_type\": \"SEQ_CLS\", \"target_modules\": [\"key\", \"value\", \"output.dense\"], \"feedforward_modules\": [\"output.dense\"]}",
        "{\"peft_type\": \"BOTTLENECK\", \"task_type\": \"SEQ_CLS\", \"reduction_factor\": 4}",
        "{\"peft_type\": \"PREFIX_TUNING\", \"task_type\": \"SEQ_CLS\", \"num_virtual_tokens\": 4}",
        "{\"peft_type\": \"PROMPT_TUNING\", \"task_type\": \"SEQ_CLS\", \"num_virtual_tokens\": 4}",
        "{\"peft_type\": \"P_TUNING\", \"task_type\": \"SEQ_CLS\", \"num_virtual_tokens\": 4, \"encoder_hidden_size\": 16}"})
    void everyMethodTrainsOnSparkAsInOneProcess(String config) {
        Map<String, float[]> single = train(null, config);
        sc = spark("local[2]");
        assertSameAdapter(train(sc, config), single);
    }

    @Test
    void aTaskThatFailsOnceIsRetriedAndChangesNothing() {
        Map<String, float[]> single = train(null);
        AtomicBoolean failed = new AtomicBoolean();
        AtomicInteger tasks = new AtomicInteger();
        Worker.beforeTask = () -> {
            if (tasks.incrementAndGet() == 3 && failed.compareAndSet(false, true)) {
                throw new IllegalStateException("injected executor failure");
            }
        };
        sc = spark("local[2,3]"); // local[threads, maxFailures]: a failed task is retried
        assertSameAdapter(train(sc), single);
        assertThat(failed).isTrue();
    }
}
