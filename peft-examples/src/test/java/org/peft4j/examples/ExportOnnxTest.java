package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.api.backend.Backend;
import org.peft4j.core.Peft;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.core.io.HostTensor;
import org.peft4j.core.io.Safetensors;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.models.bert.BertForSequenceClassification;
import org.peft4j.models.io.BertOnnx;
import org.peft4j.models.io.OnnxWeights;
import org.peft4j.models.task.Classifiers;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.models.io.MiniLm;
import org.peft4j.models.text.Tokenizer;

/** {@code peft export-onnx}: ONNX Runtime on the exported file embeds as peft4j does with the adapter. */
class ExportOnnxTest {
    private static final List<String> TEXTS = List.of("a fine film, warm and funny", "dull and far too long");

    @TempDir
    Path tmp;

    private Path adapter(String method, String... sets) throws Exception {
        Path train = tmp.resolve("train.tsv");
        List<String> lines = Files.readAllLines(Path.of("..", "data", "sst2", "train-20k.tsv")).subList(0, 33);
        Files.write(train, lines);
        Path dir = tmp.resolve(method);
        List<String> args = new java.util.ArrayList<>(List.of("train", "--method", method, "--train", train.toString(),
                "--eval", train.toString(), "--out", dir.toString(), "--batch-size", "16", "--max-length", "32"));
        for (String s : sets) {
            if (!s.startsWith("--")) {
                args.add("--set");
            }
            args.add(s);
        }
        String[] r = CliTest.run(args.toArray(String[]::new));
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        return dir;
    }

    @Test
    void onnxRuntimeOnTheExportedFileGivesPeftEmbedsVectors() throws Exception {
        Path adapter = adapter("lora", "init_lora_weights=false"); // random A and B: the merge really changes weights
        Path file = tmp.resolve("merged.onnx");
        String[] r = CliTest.run("export-onnx", "--adapter", adapter.toString(), "--out", file.toString());
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        List<String> printed = CliTest.run("embed", "--adapter", adapter.toString(), "--text", TEXTS.get(0), "--text",
                TEXTS.get(1))[1].strip().lines().toList();
        List<String> base = CliTest.run("embed", "--text", TEXTS.get(0))[1].strip().lines().toList();
        assertThat(r[1]).contains("\"logits_labels\":2"); // train made a classifier: its head is in the file
        assertThat(ortOutput(file, BertOnnx.LOGITS)).hasNumberOfRows(2);
        float[][] ort = ortEmbeddings(file);
        for (int i = 0; i < TEXTS.size(); i++) {
            assertThat(cosine(ort[i], CliTest.parseVector(printed.get(i)))).as(TEXTS.get(i)).isGreaterThan(0.9999);
        }
        assertThat(cosine(ort[0], CliTest.parseVector(base.get(0)))).as("the adapter is in the file").isLessThan(0.999);

        // LangChain4j's own in-process ONNX embedding model takes the file and the model's tokenizer
        Path tokenizer = tmp.resolve("tokenizer.json");
        try (var in = org.peft4j.models.io.MiniLm.tokenizerJson()) {
            java.nio.file.Files.copy(in, tokenizer);
        }
        var langchain4j = new dev.langchain4j.model.embedding.onnx.OnnxEmbeddingModel(file, tokenizer,
                dev.langchain4j.model.embedding.onnx.PoolingMode.MEAN);
        for (int i = 0; i < TEXTS.size(); i++) {
            float[] v = langchain4j.embed(TEXTS.get(i)).content().vector();
            assertThat(cosine(v, CliTest.parseVector(printed.get(i)))).as("LangChain4j: " + TEXTS.get(i))
                    .isGreaterThan(0.9999);
        }

        // the same model as a Hugging Face folder: a graph built from the weights, and LangChain4j runs it too
        Path folder = tmp.resolve("minilm-folder");
        Files.createDirectories(folder);
        new ObjectMapper().writeValue(folder.resolve("config.json").toFile(), MiniLm.config());
        Safetensors.write(folder.resolve("model.safetensors"), MiniLm.weights(), Map.of("format", "pt"));
        Files.copy(tokenizer, folder.resolve("tokenizer.json"));
        Path built = tmp.resolve("built.onnx");
        r = CliTest.run("export-onnx", "--model", folder.toString(), "--adapter", adapter.toString(), "--out",
                built.toString());
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        var fromBuilt = new dev.langchain4j.model.embedding.onnx.OnnxEmbeddingModel(built, tokenizer,
                dev.langchain4j.model.embedding.onnx.PoolingMode.MEAN);
        for (int i = 0; i < TEXTS.size(); i++) {
            float[] v = fromBuilt.embed(TEXTS.get(i)).content().vector();
            assertThat(cosine(v, CliTest.parseVector(printed.get(i)))).as("built graph: " + TEXTS.get(i))
                    .isGreaterThan(0.9999);
        }
        float[][] originalLogits = ortOutput(file, BertOnnx.LOGITS);
        float[][] builtLogits = ortOutput(built, BertOnnx.LOGITS);
        for (int i = 0; i < TEXTS.size(); i++) {
            assertThat(builtLogits[i]).containsExactly(originalLogits[i], org.assertj.core.data.Offset.offset(1e-4f));
        }
    }

    @Test
    void methodsThatCannotMergeAreNamedWithThoseThatCan() throws Exception {
        Path adapter = adapter("adapter");
        String[] r = CliTest.run("export-onnx", "--adapter", adapter.toString(), "--out", tmp.resolve("x.onnx").toString());
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2]).contains("BOTTLENECK adapters cannot be merged").contains("[IA3, LORA]");
        assertThat(tmp.resolve("x.onnx")).doesNotExist();
        String[] folder = CliTest.run("export-onnx", "--model", tmp.toString(), "--adapter", adapter.toString(), "--out",
                tmp.resolve("y.onnx").toString());
        assertThat(folder[0]).isEqualTo("2");
        assertThat(folder[2]).contains("has no config.json");
        assertThat(tmp.resolve("y.onnx")).doesNotExist();
    }

    /**
     * A Hugging Face folder gets a graph built from the model: on the folders the real HF PEFT wrote
     * (hf-fixtures), ONNX Runtime on the exported file gives the logits HF computed with the adapter,
     * and the file's weights are the ones HF's own merge_and_unload wrote.
     */
    @ParameterizedTest
    @ValueSource(strings = {"bert-lora", "bert-ia3"})
    void aHuggingFaceFolderIsExportedAsAGraphThatComputesWhatHfComputed(String fixture) throws Exception {
        Path dir = Path.of("src", "test", "resources", "hf-fixtures", fixture);
        Path file = tmp.resolve(fixture + ".onnx");
        String[] r = CliTest.run("export-onnx", "--model", dir.resolve("base").toString(), "--adapter",
                dir.resolve("adapter").toString(), "--out", file.toString());
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(r[1]).contains("\"logits_labels\":3");

        JsonNode reference = new ObjectMapper().readTree(dir.resolve("logits.json").toFile());
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession session = env.createSession(file.toString(), new OrtSession.SessionOptions())) {
            assertThat(session.getOutputNames()).containsExactly(BertOnnx.LAST_HIDDEN_STATE, BertOnnx.POOLER_OUTPUT,
                    BertOnnx.LOGITS);
            int b = 0;
            for (JsonNode batch : reference.path("batches")) {
                long[][] ids = longs(batch.path("input_ids"));
                long[][] mask = longs(batch.path("attention_mask"));
                try (OnnxTensor idsT = OnnxTensor.createTensor(env, ids);
                        OnnxTensor maskT = OnnxTensor.createTensor(env, mask);
                        OnnxTensor typesT = OnnxTensor.createTensor(env, new long[ids.length][ids[0].length]);
                        OrtSession.Result out = session.run(Map.of("input_ids", idsT, "attention_mask", maskT,
                                "token_type_ids", typesT), java.util.Set.of(BertOnnx.LOGITS))) {
                    float[][] logits = (float[][]) out.get(0).getValue();
                    JsonNode want = reference.path("logits").path("adapter").get(b++);
                    for (int i = 0; i < logits.length; i++) {
                        for (int j = 0; j < logits[i].length; j++) {
                            assertThat((double) logits[i][j]).as(fixture + " logits[" + i + "][" + j + "]")
                                    .isCloseTo(want.get(i).get(j).asDouble(), within(1e-4));
                        }
                    }
                }
            }
        }

        OnnxWeights.BertWeights read;
        try (InputStream in = Files.newInputStream(file)) {
            read = OnnxWeights.readBert(in);
        }
        assertThat(read.config().numAttentionHeads()).isEqualTo(4);
        Map<String, HostTensor> hfMerged = Safetensors.read(dir.resolve("merged").resolve("model.safetensors"));
        assertThat(read.weights().keySet()).hasSize(hfMerged.size() - 2); // all but HF's classifier.weight/bias
        read.weights().forEach((name, t) -> {
            float[] want = hfMerged.get("bert." + name).data();
            for (int i = 0; i < want.length; i++) {
                assertThat((double) t.data()[i]).as(name).isCloseTo(want[i], within(1e-5));
            }
        });
    }

    /** A mean-pooling head (train --pooling mean) reads the mean of the last hidden state in the file too. */
    @Test
    void theClassificationHeadIsAnExtraOutputWithTheAdaptersPooling() throws Exception {
        Path adapter = adapter("ia3", "--pooling=mean");
        Path file = tmp.resolve("ia3.onnx");
        String[] r = CliTest.run("export-onnx", "--adapter", adapter.toString(), "--out", file.toString());
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        float[][] expected;
        try (Backend b = Peft.backend("djl"); Tokenizer tok = MiniLm.tokenizer()) {
            Classifiers.Loaded model = Classifiers.load(PretrainedEncoder.load("minilm"), Peft.factory(b),
                    AdapterFiles.load(adapter, Peft.registry()), 2);
            assertThat(model.net().pooling()).isEqualTo(BertForSequenceClassification.Pooling.MEAN);
            Tokenizer.Batch batch = tok.encode(TEXTS, 256);
            long[] shape = {batch.batchSize(), batch.seqLen()};
            float[] flat = model.net().forward(b.fromLongs(batch.inputIds(), shape), b.fromLongs(batch.attentionMask(),
                    shape), b.fromLongs(batch.tokenTypeIds(), shape)).toFloatArray();
            expected = new float[][] {java.util.Arrays.copyOfRange(flat, 0, 2), java.util.Arrays.copyOfRange(flat, 2, 4)};
        }
        float[][] logits = ortOutput(file, "logits");
        for (int i = 0; i < TEXTS.size(); i++) {
            assertThat(logits[i]).as(TEXTS.get(i)).containsExactly(expected[i], org.assertj.core.data.Offset.offset(1e-4f));
        }
    }

    /** One 2-D output of the file for {@link #TEXTS}. */
    private static float[][] ortOutput(Path file, String name) throws Exception {
        return ortRun(file, name, (value, batch) -> (float[][]) value);
    }

    /** ONNX Runtime on the file for {@link #TEXTS} (MiniLM's tokenizer); {@code read} gets the output and the batch. */
    private static <T> T ortRun(Path file, String output,
            java.util.function.BiFunction<Object, Tokenizer.Batch, T> read) throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (Tokenizer tok = MiniLm.tokenizer(); OrtSession session = env.createSession(file.toString(),
                new OrtSession.SessionOptions())) {
            Tokenizer.Batch b = tok.encode(TEXTS, 256);
            long[] shape = {b.batchSize(), b.seqLen()};
            try (OnnxTensor ids = OnnxTensor.createTensor(env, LongBuffer.wrap(b.inputIds()), shape);
                    OnnxTensor mask = OnnxTensor.createTensor(env, LongBuffer.wrap(b.attentionMask()), shape);
                    OnnxTensor types = OnnxTensor.createTensor(env, LongBuffer.wrap(b.tokenTypeIds()), shape);
                    OrtSession.Result out = session.run(Map.of("input_ids", ids, "attention_mask", mask,
                            "token_type_ids", types), java.util.Set.of(output))) {
                return read.apply(out.get(0).getValue(), b);
            }
        }
    }

    private static long[][] longs(JsonNode rows) {
        long[][] out = new long[rows.size()][];
        for (int i = 0; i < out.length; i++) {
            JsonNode row = rows.get(i);
            out[i] = new long[row.size()];
            for (int j = 0; j < out[i].length; j++) {
                out[i][j] = row.get(j).asLong();
            }
        }
        return out;
    }

    /** Mean-pooled, L2-normalised last hidden states from ONNX Runtime, as sentence-transformers computes them. */
    private static float[][] ortEmbeddings(Path file) throws Exception {
        return ortRun(file, "output_0", (value, b) -> {
            float[][][] hidden = (float[][][]) value;
            float[][] emb = new float[b.batchSize()][];
            for (int i = 0; i < b.batchSize(); i++) {
                int dim = hidden[i][0].length;
                float[] sum = new float[dim];
                int n = 0;
                for (int t = 0; t < b.seqLen(); t++) {
                    if (b.attentionMask()[i * b.seqLen() + t] == 1) {
                        n++;
                        for (int d = 0; d < dim; d++) {
                            sum[d] += hidden[i][t][d];
                        }
                    }
                }
                double norm = 0;
                for (int d = 0; d < dim; d++) {
                    sum[d] /= n;
                    norm += sum[d] * sum[d];
                }
                for (int d = 0; d < dim; d++) {
                    sum[d] /= (float) Math.sqrt(norm);
                }
                emb[i] = sum;
            }
            return emb;
        });
    }

    private static double cosine(float[] a, float[] b) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return dot / Math.sqrt(na * nb);
    }
}
