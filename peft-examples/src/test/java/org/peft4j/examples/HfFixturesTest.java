package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Module;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModel;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.core.io.Safetensors;
import org.peft4j.models.PretrainedDecoder;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.models.bert.BertForSequenceClassification;
import org.peft4j.models.decoder.CausalLM;

/**
 * Folders written by the real Hugging Face PEFT 0.10.0 with transformers 4.39 (see
 * {@code src/test/resources/hf-fixtures/README.md}): peft4j loads each {@code base/} and
 * {@code adapter/} and reproduces the logits HF computed (base, with the adapter, merged), and an
 * adapter it saves again has the tensor names, shapes and config keys HF wrote, so HF reads it.
 */
class HfFixturesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path FIXTURES = Path.of("src", "test", "resources", "hf-fixtures");
    private static final double TOLERANCE = 1e-5;

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0} on {1}")
    @CsvSource({"gpt2-lora, djl", "gpt2-ia3, djl", "gpt2-prompt_tuning, djl", "gpt2-prefix_tuning, djl",
            "bert-lora, djl", "bert-ia3, djl", "bert-prompt_tuning, djl", "bert-prefix_tuning, djl",
            "gpt2-lora, nd4j", "bert-lora, nd4j"})
    void peft4jReproducesWhatHfComputedAndSavesWhatHfWrote(String fixture, String backendName) throws Exception {
        Path dir = FIXTURES.resolve(fixture);
        JsonNode reference = JSON.readTree(dir.resolve("logits.json").toFile());
        boolean bert = reference.path("arch").asText().equals("bert");
        try (Backend b = Peft.backend(backendName)) {
            Function<Path, Module> load = folder -> bert
                    ? PretrainedEncoder.load(folder.toString()).classifier(b, 0, 1) : PretrainedDecoder.load(b, folder);
            Module base = load.apply(dir.resolve("base"));
            assertClose(logits(base, reference, bert), reference.path("logits").path("base"), fixture + " base");

            PeftModel peft = Peft.factory(b).create(base, 1);
            peft.loadAdapter("default", dir.resolve("adapter"));
            assertClose(logits(base, reference, bert), reference.path("logits").path("adapter"), fixture + " adapter");

            peft.save(tmp, "default");
            assertSameFiles(dir.resolve("adapter"), tmp);

            // an adapter peft4j makes from scratch writes no key HF 0.10 would refuse
            com.fasterxml.jackson.databind.node.ObjectNode minimal = JSON.createObjectNode();
            JsonNode hfConfig = JSON.readTree(dir.resolve("adapter").resolve(AdapterFiles.CONFIG_FILE).toFile());
            for (String key : List.of("peft_type", "task_type", "target_modules", "feedforward_modules",
                    "num_virtual_tokens", "fan_in_fan_out", "r", "lora_alpha")) {
                if (hfConfig.has(key)) {
                    minimal.set(key, hfConfig.get(key));
                }
            }
            Module fresh = load.apply(dir.resolve("base"));
            PeftModel made = Peft.factory(b).create(fresh, 2);
            made.addAdapter("default", Peft.registry().parseConfig(minimal.toString()));
            Path fromScratch = tmp.resolve("fresh");
            made.save(fromScratch, "default");
            assertThat(keys(dir.resolve("adapter"))).as("keys HF 0.10 wrote for this method")
                    .containsAll(keys(fromScratch));

            if (Files.isDirectory(dir.resolve("merged"))) {
                Module merged = load.apply(dir.resolve("merged"));
                assertClose(logits(merged, reference, bert), reference.path("logits").path("merged"), fixture + " HF merged");
                Module ours = peft.mergeAndUnload();
                assertClose(logits(ours, reference, bert), reference.path("logits").path("merged"), fixture + " merged");
            }
        }
    }

    /** Logits for every batch of the fixture, as nested lists like logits.json's. */
    private static List<float[]> logits(Module model, JsonNode reference, boolean bert) {
        Backend b = model.backend();
        model.setTraining(false);
        List<float[]> out = new ArrayList<>();
        for (JsonNode batch : reference.path("batches")) {
            long[] ids = flat(batch.path("input_ids"));
            long[] mask = flat(batch.path("attention_mask"));
            long rows = batch.path("input_ids").size();
            long seq = ids.length / rows;
            try (Scope s = b.scope()) {
                Tensor logits = bert
                        ? ((BertForSequenceClassification) model).forward(b.fromLongs(ids, rows, seq), b.fromLongs(mask, rows, seq), null)
                        : ((CausalLM) model).forward(b.fromLongs(ids, rows, seq), mask, null);
                out.add(logits.toFloatArray());
            }
        }
        return out;
    }

    private static long[] flat(JsonNode rows) {
        List<Long> values = new ArrayList<>();
        rows.forEach(r -> r.forEach(v -> values.add(v.asLong())));
        return values.stream().mapToLong(Long::longValue).toArray();
    }

    private static void assertClose(List<float[]> got, JsonNode expected, String what) {
        assertThat(got).as(what + ": batches").hasSize(expected.size());
        for (int i = 0; i < got.size(); i++) {
            List<Double> want = new ArrayList<>();
            collect(expected.get(i), want);
            assertThat(got.get(i).length).as(what + " batch " + i + " size").isEqualTo(want.size());
            double worst = 0;
            for (int j = 0; j < want.size(); j++) {
                worst = Math.max(worst, Math.abs(got.get(i)[j] - want.get(j)));
            }
            assertThat(worst).as(what + " batch " + i + ": largest difference from HF").isLessThan(TOLERANCE);
        }
    }

    private static void collect(JsonNode node, List<Double> into) {
        if (node.isArray()) {
            node.forEach(n -> collect(n, into));
        } else {
            into.add(node.asDouble());
        }
    }

    /** Same tensor names and shapes, same config keys (HF 0.10 refuses keys it does not know). */
    private static void assertSameFiles(Path hf, Path ours) throws Exception {
        Map<String, long[]> theirs = Safetensors.readShapes(hf.resolve(AdapterFiles.WEIGHTS_FILE));
        Map<String, long[]> mine = Safetensors.readShapes(ours.resolve(AdapterFiles.WEIGHTS_FILE));
        assertThat(mine.keySet()).isEqualTo(theirs.keySet());
        theirs.forEach((k, shape) -> assertThat(mine.get(k)).as(k).isEqualTo(shape));
        assertThat(keys(ours)).isEqualTo(keys(hf));
    }

    private static TreeSet<String> keys(Path dir) throws Exception {
        TreeSet<String> out = new TreeSet<>();
        for (Iterator<String> it = JSON.readTree(dir.resolve(AdapterFiles.CONFIG_FILE).toFile()).fieldNames(); it.hasNext(); ) {
            out.add(it.next());
        }
        return out;
    }
}
