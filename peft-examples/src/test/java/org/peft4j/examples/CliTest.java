package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.core.io.PeftJson;
import org.peft4j.core.io.Safetensors;
import org.peft4j.examples.cli.PeftCli;

/** The peft CLI as a user runs it: exit codes, one-line errors, and train, eval, merge, embed end to end. */
class CliTest {

    /** Runs the CLI in this JVM: {exit code, stdout, stderr}. */
    static String[] run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true));
            System.setErr(new PrintStream(e, true));
            int code = PeftCli.run(args);
            return new String[] {Integer.toString(code), o.toString(), e.toString()};
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void trainOnSparkLocal2ReportsWorkersAndBytesPerStepAndSavesTheUsualFolder(@TempDir Path tmp) throws Exception {
        Path train = head(sst2("train-20k.tsv"), 32, tmp.resolve("train.tsv"));
        Path dev = head(sst2("dev.tsv"), 16, tmp.resolve("dev.tsv"));
        Path adapter = tmp.resolve("adapter");
        String[] t = run("train", "--train", train.toString(), "--eval", dev.toString(), "--out", adapter.toString(),
                "--batch-size", "16", "--max-length", "32", "--spark", "local[2]");
        assertThat(t[0]).as(t[2]).isEqualTo("0");
        JsonNode trained = lastJson(t[1]);
        assertThat(trained.get("workers").asInt()).isEqualTo(2);
        // LoRA's 338,690 floats out once and back from each of the 2 tasks
        assertThat(trained.get("bytes_per_step").asLong()).isEqualTo(338_690L * 4 * 3);
        assertThat(trained.get("train_steps").asInt()).isEqualTo(2);
        String[] e = run("eval", "--adapter", adapter.toString(), "--eval", dev.toString(), "--max-length", "32");
        assertThat(e[0]).as(e[2]).isEqualTo("0");
        assertThat(lastJson(e[1]).get("accuracy").asDouble()).isEqualTo(trained.get("accuracy").asDouble());
        assertThat(run("train", "--method", "full", "--spark", "local[2]", "--train", train.toString(),
                "--eval", dev.toString(), "--out", tmp.resolve("full").toString())[2]).contains("--spark trains PEFT methods");
    }

    @Test
    void embedOnSparkWritesTheVectorsPeftEmbedPrints(@TempDir Path tmp) throws Exception {
        Path input = tmp.resolve("texts.jsonl");
        Files.writeString(input, "{\"id\": 1, \"text\": \"a warm, funny film\"}\n{\"id\": 2, \"text\": \"dull\"}\n");
        Path output = tmp.resolve("vectors");
        String[] r = run("embed", "--spark", "local[2]", "--input", input.toString(), "--output", output.toString());
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(lastJson(r[1]).get("rows").asInt()).isEqualTo(2);
        java.util.Map<Integer, float[]> byId = new java.util.HashMap<>();
        try (var parts = Files.list(output)) {
            for (Path part : parts.filter(p -> p.getFileName().toString().startsWith("part-")).toList()) {
                for (String line : Files.readAllLines(part)) {
                    JsonNode row = PeftJson.mapper().readTree(line);
                    float[] v = new float[row.get("embedding").size()];
                    for (int i = 0; i < v.length; i++) {
                        v[i] = (float) row.get("embedding").get(i).asDouble();
                    }
                    byId.put(row.get("id").asInt(), v);
                }
            }
        }
        String[] single = run("embed", "--text", "a warm, funny film", "--text", "dull");
        List<String> lines = single[1].strip().lines().toList();
        assertThat(org.peft4j.testkit.Reference.maxAbsDiff(byId.get(1), parseVector(lines.get(0)))).isLessThan(1e-5f);
        assertThat(org.peft4j.testkit.Reference.maxAbsDiff(byId.get(2), parseVector(lines.get(1)))).isLessThan(1e-5f);
        assertThat(run("embed", "--spark", "local[2]", "--input", input.toString(), "--output", output.toString())[2])
                .contains("exists");
    }

    @Test
    void listPrintsMethodsAndBackends() {
        String[] r = run("list");
        assertThat(r[0]).isEqualTo("0");
        assertThat(r[1]).contains("LORA").contains("djl").contains("nd4j").contains("[default]");
    }

    /** The repository's SST-2 files, from the module folder Maven runs tests in. */
    static Path sst2(String file) {
        Path p = Path.of("..", "data", "sst2", file);
        assertThat(p).isRegularFile();
        return p;
    }

    static Path head(Path from, int lines, Path to) throws Exception {
        Files.write(to, Files.readAllLines(from).subList(0, lines + 1));
        return to;
    }

    private static JsonNode lastJson(String out) throws Exception {
        List<String> lines = out.strip().lines().toList();
        return PeftJson.mapper().readTree(lines.get(lines.size() - 1));
    }

    @Test
    void trainEvalMergeAndEmbedAgreeEndToEnd(@TempDir Path tmp) throws Exception {
        Path train = head(sst2("train-20k.tsv"), 96, tmp.resolve("train.tsv"));
        Path dev = head(sst2("dev.tsv"), 48, tmp.resolve("dev.tsv"));
        Path adapter = tmp.resolve("adapter");
        String[] t = run("train", "--train", train.toString(), "--eval", dev.toString(), "--out", adapter.toString(),
                "--batch-size", "16", "--max-length", "32", "--set", "init_lora_weights=gaussian");
        assertThat(t[0]).as(t[2]).isEqualTo("0");
        JsonNode trained = lastJson(t[1]);
        for (String key : List.of("accuracy", "trainable_params", "total_params", "train_seconds",
                "examples_per_second", "peak_heap_mb")) {
            assertThat(trained.has(key)).as(key).isTrue();
        }
        assertThat(trained.get("train_steps").asInt()).isEqualTo(6);
        // LoRA r=8 on the 36 linear layers of the 6 encoder layers and, as HF matches "dense", the pooler's, plus the 384 x 2 head
        assertThat(trained.get("trainable_params").asLong()).isEqualTo(332_546 + 8 * (384 + 384));
        assertThat(adapter.resolve("adapter_config.json")).isRegularFile();

        // eval of the saved adapter reproduces train's own evaluation
        String[] e = run("eval", "--adapter", adapter.toString(), "--eval", dev.toString(), "--max-length", "32");
        assertThat(e[0]).as(e[2]).isEqualTo("0");
        JsonNode evaluated = lastJson(e[1]);
        assertThat(evaluated.get("accuracy").asDouble()).isEqualTo(trained.get("accuracy").asDouble());
        assertThat(evaluated.get("eval_loss").asDouble()).isCloseTo(trained.get("eval_loss").asDouble(),
                org.assertj.core.data.Offset.offset(1e-3));

        // the merged folder is a plain model that evaluates the same without any adapter
        Path merged = tmp.resolve("merged");
        String[] m = run("merge", "--adapter", adapter.toString(), "--out", merged.toString());
        assertThat(m[0]).as(m[2]).isEqualTo("0");
        assertThat(Safetensors.read(merged.resolve("model.safetensors")).keySet())
                .contains("bert.encoder.layer.0.attention.self.query.weight", "bert.pooler.dense.weight", "classifier.weight")
                .noneMatch(k -> k.contains("lora"));
        String[] em = run("eval", "--model", merged.toString(), "--eval", dev.toString(), "--max-length", "32");
        assertThat(em[0]).as(em[2]).isEqualTo("0");
        assertThat(lastJson(em[1]).get("eval_loss").asDouble()).isCloseTo(evaluated.get("eval_loss").asDouble(),
                org.assertj.core.data.Offset.offset(1e-3));

        // embeddings: one unit-length array per text; the adapter changes them
        String[] base = run("embed", "--text", "a fine film", "--text", "dull");
        assertThat(base[0]).as(base[2]).isEqualTo("0");
        List<String> lines = base[1].strip().lines().toList();
        assertThat(lines).hasSize(2);
        JsonNode v = PeftJson.mapper().readTree(lines.get(1));
        assertThat(v.size()).isEqualTo(384);
        double norm = 0;
        for (JsonNode x : v) {
            norm += x.asDouble() * x.asDouble();
        }
        assertThat(Math.sqrt(norm)).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-4));
        String[] adapted = run("embed", "--text", "a fine film", "--adapter", adapter.toString());
        assertThat(adapted[1].strip()).isNotEqualTo(lines.get(0));
    }

    @Test
    void generateContinuesALlamaFolderGreedily(@TempDir Path tmp) {
        Path model = org.peft4j.testkit.TinyLlama.write(tmp.resolve("llama"), org.peft4j.testkit.TinyLlama.weights(4));
        String[] g = run("generate", "--model", model.toString(), "--ids", "1,7,23", "--max-new-tokens", "5");
        assertThat(g[0]).as(g[2]).isEqualTo("0");
        String last = g[1].strip().lines().reduce((a, b) -> b).orElseThrow();
        assertThat(last).matches("\\[\\d+(,\\d+){4}\\]");
        assertThat(run("generate", "--model", model.toString(), "--prompt", "hi")[2]).contains("tokenizer.json");
    }

    @Test
    void generateWithAGpt2FolderPrintsWhatTheLibraryGenerates(@TempDir Path tmp) {
        Path model = org.peft4j.testkit.TinyGpt2.write(tmp.resolve("gpt2"), org.peft4j.testkit.TinyGpt2.weights(4));
        String[] g = run("generate", "--model", model.toString(), "--ids", "1,7,23", "--max-new-tokens", "6");
        assertThat(g[0]).as(g[2]).isEqualTo("0");
        long[] expected;
        try (org.peft4j.api.backend.Backend b = org.peft4j.core.Peft.backend("djl")) {
            // without --eos-id the CLI stops at the config's eos_token_id, as the library does
            org.peft4j.models.decoder.CausalLM lm = org.peft4j.models.PretrainedDecoder.load(b, model);
            expected = lm.generate(new long[] {1, 7, 23}, 6, lm.eosTokenIds());
        }
        assertThat(g[1].strip()).isEqualTo(java.util.Arrays.toString(expected).replace(" ", ""));
    }

    @Test
    void trainLmTunesAGpt2FolderOnTextsAndTheAdapterGenerates(@TempDir Path tmp) throws Exception {
        Path model = org.peft4j.testkit.TinyGpt2.write(tmp.resolve("gpt2"), org.peft4j.testkit.TinyGpt2.weights(4));
        org.peft4j.testkit.TinyGpt2.writeTokenizer(model);
        // a tiny regular language: the model can learn which word follows which
        String[] subjects = {"the film", "the movie", "the story", "the acting"};
        String[] verdicts = {"is very good", "was quite bad", "is too long", "was so funny"};
        List<String> lines = new java.util.ArrayList<>();
        for (int i = 0; i < 64; i++) {
            lines.add(subjects[i % 4] + " " + verdicts[(i / 4) % 4] + " and i loved it");
        }
        Path train = Files.write(tmp.resolve("train.txt"), lines);
        Path eval = Files.write(tmp.resolve("eval.txt"), lines.subList(0, 16));
        double[] evalLoss = new double[2];
        int[] steps = {1, 40};
        for (int i = 0; i < 2; i++) {
            Path out = tmp.resolve("adapter" + i);
            String[] r = run("train-lm", "--model", model.toString(), "--train", train.toString(), "--eval", eval.toString(),
                    "--out", out.toString(), "--epochs", "5", "--max-steps", Integer.toString(steps[i]), "--batch-size", "8",
                    "--lr", "1e-2", "--max-length", "16");
            assertThat(r[0]).as(r[2]).isEqualTo("0");
            JsonNode report = PeftJson.mapper().readTree(r[1].strip().lines().reduce((a, b) -> b).orElseThrow());
            assertThat(report.get("method").asText()).isEqualTo("LORA");
            assertThat(report.get("model_type").asText()).isEqualTo("gpt2");
            assertThat(report.get("train_steps").asInt()).isEqualTo(steps[i]);
            assertThat(report.get("perplexity").asDouble()).isEqualTo(Math.exp(report.get("eval_loss").asDouble()),
                    org.assertj.core.data.Offset.offset(1e-2 * report.get("perplexity").asDouble()));
            evalLoss[i] = report.get("eval_loss").asDouble();
            JsonNode config = PeftJson.mapper().readTree(out.resolve("adapter_config.json").toFile());
            assertThat(config.get("task_type").asText()).isEqualTo("CAUSAL_LM");
            assertThat(config.get("fan_in_fan_out").asBoolean()).isTrue();
            assertThat(Safetensors.read(out.resolve("adapter_model.safetensors")).keySet())
                    .contains("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight");
        }
        assertThat(evalLoss[1]).isLessThan(evalLoss[0] - 0.5);
        String[] g = run("generate", "--model", model.toString(), "--adapter", tmp.resolve("adapter1").toString(),
                "--prompt", "the film", "--max-new-tokens", "4", "--eos-id", "-1");
        assertThat(g[0]).as(g[2]).isEqualTo("0");
        assertThat(run("train-lm", "--model", model.toString(), "--train", train.toString(), "--method", "full")[2])
                .contains("full fine-tuning");
    }

    @Test
    void missingFilesAndUnknownNamesAreOneLineWithExitCode2(@TempDir Path tmp) {
        for (String[] args : List.of(
                new String[] {"train", "--train", tmp.resolve("nope.tsv").toString()},
                new String[] {"eval", "--adapter", tmp.toString()},
                new String[] {"train", "--method", "nosuch"},
                new String[] {"embed", "--text", "x", "--backend", "tpu"},
                new String[] {"merge", "--adapter", tmp.toString(), "--out", tmp.resolve("o").toString()})) {
            String[] r = run(args);
            assertThat(r[0]).as(String.join(" ", args)).isEqualTo("2");
            assertThat(r[2].strip().lines()).as(r[2]).hasSize(1);
        }
        assertThat(run("train", "--method", "nosuch")[2]).contains("LORA");
        assertThat(run("embed", "--text", "x", "--backend", "tpu")[2]).contains("djl").contains("nd4j");
    }

    @Test
    void unknownFlagIsOneLineAndExitCode2() {
        String[] r = run("list", "--bogus");
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2].strip().lines()).hasSize(1);
        assertThat(r[2]).contains("--bogus");
    }

    /** LangChain4j's view of the model gives exactly what {@code peft embed} prints, with and without an adapter. */
    @Test
    void theLangChain4jEmbeddingModelEmbedsAsPeftEmbedPrints(@TempDir Path tmp) throws Exception {
        Path train = head(sst2("train-20k.tsv"), 32, tmp.resolve("train.tsv"));
        Path dev = head(sst2("dev.tsv"), 16, tmp.resolve("dev.tsv"));
        String[] t = run("train", "--train", train.toString(), "--eval", dev.toString(), "--out", tmp.resolve("a").toString(),
                "--batch-size", "16", "--max-length", "32", "--set", "init_lora_weights=gaussian");
        assertThat(t[0]).as(t[2]).isEqualTo("0");
        for (Path adapter : new Path[] {null, tmp.resolve("a")}) {
            String[] printed = adapter == null ? run("embed", "--text", "a fine film", "--text", "dull")
                    : run("embed", "--text", "a fine film", "--text", "dull", "--adapter", adapter.toString());
            var builder = org.peft4j.langchain4j.PeftEmbeddingModel.builder();
            if (adapter != null) {
                builder.adapter(adapter);
            }
            try (var model = builder.build()) {
                java.util.List<String> lines = printed[1].strip().lines().toList();
                String[] texts = {"a fine film", "dull"};
                for (int i = 0; i < texts.length; i++) {
                    float[] expected = parseVector(lines.get(i));
                    float[] got = model.embed(texts[i]).content().vector();
                    assertThat(org.peft4j.testkit.Reference.maxAbsDiff(got, expected)).as(texts[i] + " with " + adapter)
                            .isLessThan(1e-6f);
                }
            }
        }
    }

    /** A vector as {@code peft embed} prints it. */
    static float[] parseVector(String line) {
        String[] parts = line.substring(1, line.length() - 1).split(",");
        float[] v = new float[parts.length];
        for (int i = 0; i < parts.length; i++) {
            v[i] = Float.parseFloat(parts[i]);
        }
        return v;
    }
}
