package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
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
            args.add("--set");
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
        assertThat(folder[2]).contains("peft merge");
    }

    /** Mean-pooled, L2-normalised last hidden states from ONNX Runtime, as sentence-transformers computes them. */
    private static float[][] ortEmbeddings(Path file) throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (Tokenizer tok = MiniLm.tokenizer(); OrtSession session = env.createSession(file.toString(),
                new OrtSession.SessionOptions())) {
            Tokenizer.Batch b = tok.encode(TEXTS, 256);
            long[] shape = {b.batchSize(), b.seqLen()};
            try (OnnxTensor ids = OnnxTensor.createTensor(env, LongBuffer.wrap(b.inputIds()), shape);
                    OnnxTensor mask = OnnxTensor.createTensor(env, LongBuffer.wrap(b.attentionMask()), shape);
                    OnnxTensor types = OnnxTensor.createTensor(env, LongBuffer.wrap(b.tokenTypeIds()), shape);
                    OrtSession.Result out = session.run(Map.of("input_ids", ids, "attention_mask", mask,
                            "token_type_ids", types), java.util.Set.of("output_0"))) {
                float[][][] hidden = (float[][][]) out.get(0).getValue();
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
            }
        }
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
