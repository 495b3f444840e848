package org.peft4j.ia3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.core.Peft;
import org.peft4j.api.PeftException;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.core.io.PeftJson;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.core.io.HostTensor;
import org.peft4j.api.nn.Linear;
import org.peft4j.models.bert.TinyBert;
import org.peft4j.testkit.Reference;

/** IA3 on a small random BERT with HF's BERT defaults, on every backend. */
class Ia3Test {
    private static final String KEY = "bert.encoder.layer.0.attention.self.key";
    private static final String FFN_OUT = "bert.encoder.layer.0.output.dense";
    private static final String ATT_OUT = "bert.encoder.layer.0.attention.output.dense";

    @TempDir
    Path dir;

    /** HF's mapping for BERT: key, value and output.dense, with output.dense feed-forward. */
    private static Ia3Config config(boolean init) {
        return Ia3Config.builder().targetModules("key", "value", "output.dense").feedforwardModules("output.dense")
                .initIa3Weights(init).modulesToSave("classifier").build();
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void startsAsTheBaseModelWithOneScalePerFeature(String name) {
        try (Backend b = Peft.backend(name)) {
            PeftModel plain = TinyBert.plain(b);
            float[] base = TinyBert.out(plain);
            long baseTotal = plain.parameterCount().total();
            PeftModel m = TinyBert.withAdapter(b, config(true));
            assertThat(TinyBert.out(m)).containsExactly(base);
            assertThat(((Ia3Linear) m.model().find(KEY)).isFeedforward()).isFalse();
            assertThat(((Ia3Linear) m.model().find(FFN_OUT)).isFeedforward()).isTrue();
            // HF's suffix rule: attention.output.dense also ends with output.dense
            assertThat(((Ia3Linear) m.model().find(ATT_OUT)).isFeedforward()).isTrue();
            Map<String, ?> state = m.adapterState("default");
            assertThat(m.adapterState("default").get("base_model.model." + KEY + ".ia3_l").value().shape())
                    .containsExactly(16, 1);
            assertThat(m.adapterState("default").get("base_model.model." + FFN_OUT + ".ia3_l").value().shape())
                    .containsExactly(1, 32);
            assertThat(state).hasSize(TinyBert.LAYERS * 4 + 2);
            // per layer: key 16 + value 16 (outputs), attention.output.dense 16 + output.dense 32 (inputs)
            long ia3 = TinyBert.LAYERS * (16 + 16 + 16 + 32);
            assertThat(m.parameterCount().trainable()).isEqualTo(ia3 + TinyBert.HEAD);
            assertThat(m.parameterCount().total()).isEqualTo(baseTotal + ia3);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void mergedEqualsUnmergedAndUnmergeRestoresTheBaseWeights(String name) {
        try (Backend b = Peft.backend(name)) {
            PeftModel m = TinyBert.withAdapter(b, config(false));
            float[] base;
            try (var off = m.disableAdapter()) {
                base = TinyBert.out(m);
            }
            Map<String, float[]> before = TinyBert.snapshot(m);
            float[] unmerged = TinyBert.out(m);
            // a random BERT (weights std 0.02) reacts little to the scales, but measurably
            assertThat(Reference.maxAbsDiff(unmerged, base)).isGreaterThan(1e-4f);
            m.merge("default");
            assertThat(Reference.maxAbsDiff(TinyBert.out(m), unmerged)).isLessThan(1e-5f);
            String keyBias = KEY + ".base_layer.bias";
            assertThat(Reference.maxAbsDiff(m.model().namedParameters().get(keyBias).value().toFloatArray(),
                    before.get(keyBias))).isGreaterThan(1e-4f);
            m.merge("default"); // a second merge changes nothing
            assertThat(Reference.maxAbsDiff(TinyBert.out(m), unmerged)).isLessThan(1e-5f);
            m.unmerge("default");
            m.model().namedParameters().forEach((n, p) -> {
                if (n.contains(".base_layer.")) {
                    float[] v = p.value().toFloatArray();
                    float[] w = before.get(n);
                    for (int i = 0; i < v.length; i++) {
                        assertThat(Math.abs(v[i] - w[i])).as(n).isLessThanOrEqualTo(1e-6f * Math.max(1f, Math.abs(w[i])));
                    }
                }
            });

            Map<String, float[]> names = TinyBert.snapshot(new PeftModel(TinyBert.model(b), Peft.registry(), 1));
            var merged = m.mergeAndUnload();
            assertThat(merged.find(KEY)).isInstanceOf(Linear.class);
            assertThat(merged.namedParameters().keySet()).isEqualTo(names.keySet());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void trainingLowersTheLossAndChangesOnlyTheVectorsAndTheHead(String name) {
        try (Backend b = Peft.backend(name)) {
            PeftModel m = TinyBert.withAdapter(b, config(true));
            Map<String, float[]> before = TinyBert.snapshot(m);
            float[] loss = TinyBert.train(m, 10, 1e-2f);
            assertThat(loss[1]).isLessThan(loss[0]);
            m.model().namedParameters().forEach((n, p) -> {
                boolean changed = !Arrays.equals(before.get(n), p.value().toFloatArray());
                boolean adapter = n.contains(".ia3_l.") || n.startsWith("classifier.");
                assertThat(changed).as(n).isEqualTo(adapter);
            });
        }
    }

    @Test
    void saveThenLoadIsExactAcrossBackendsWithHfTensorNames() throws Exception {
        float[] trained;
        Map<String, HostTensor> saved = new LinkedHashMap<>();
        try (Backend b = Peft.backend("nd4j")) {
            PeftModel m = TinyBert.withAdapter(b, config(true));
            TinyBert.train(m, 3, 1e-2f);
            trained = TinyBert.out(m);
            m.savedState("default").forEach((k, t) -> saved.put(k, HostTensor.of(t)));
            m.save(dir, "default");
        }
        var json = PeftJson.mapper().readTree(dir.resolve("adapter_config.json").toFile());
        assertThat(json.get("peft_type").asText()).isEqualTo("IA3");
        assertThat(json.get("feedforward_modules").toString()).isEqualTo("[\"output.dense\"]");
        AdapterFiles.Loaded loaded = AdapterFiles.load(dir, Peft.registry());
        assertThat(loaded.tensors().keySet()).contains("base_model.model." + KEY + ".ia3_l",
                "base_model.model." + FFN_OUT + ".ia3_l", "base_model.model.classifier.weight");
        assertThat(loaded.tensors()).isEqualTo(saved);
        for (String name : new String[] {"djl", "nd4j"}) {
            try (Backend b = Peft.backend(name)) {
                PeftModel m = new PeftModel(TinyBert.model(b), Peft.registry(), 77);
                m.loadAdapter("default", loaded);
                m.savedState("default").forEach((k, t) ->
                        assertThat(HostTensor.of(t)).as(name + " " + k).isEqualTo(saved.get(k)));
                assertThat(Reference.maxAbsDiff(TinyBert.out(m), trained)).as(name).isLessThan(1e-5f);
            }
        }
    }

    @Test
    void deleteRestoresPlainLinearsAndUnknownTargetsAreNamed() {
        try (Backend b = Peft.backend("djl")) {
            PeftModel m = TinyBert.plain(b);
            long total = m.parameterCount().total();
            m.addAdapter("a", Ia3Config.builder().targetModules("key", "value").initIa3Weights(false).build());
            m.addAdapter("b", Ia3Config.builder().targetModules("value").initIa3Weights(false).build());
            m.deleteAdapter("a");
            assertThat(m.model().find(KEY)).isInstanceOf(Linear.class);
            assertThat(m.model().find("bert.encoder.layer.0.attention.self.value")).isInstanceOf(Ia3Linear.class);
            m.deleteAdapter("b");
            assertThat(m.parameterCount().total()).isEqualTo(total);
            assertThatThrownBy(() -> m.addAdapter("c", Ia3Config.builder().targetModules("kee").build()))
                    .isInstanceOf(PeftException.class).hasMessageContaining("'kee'").hasMessageContaining("key");

            // a zero scale cannot be divided out again: merging is refused and no weight changes
            assertThat(Peft.registry().tuner("ia3")).isInstanceOf(org.peft4j.ia3.Ia3Tuner.class);
            m.addAdapter("z", Ia3Config.builder().targetModules("key", "value").build());
            Map<String, float[]> before = TinyBert.snapshot(m);
            var last = m.adapterState("z").get("base_model.model.bert.encoder.layer.1.attention.self.value.ia3_l");
            float[] v = last.value().toFloatArray();
            v[3] = 0f;
            last.set(b.fromFloats(v, last.value().shape()));
            assertThatThrownBy(() -> m.merge("z")).isInstanceOf(PeftException.class).hasMessageContaining("'z'")
                    .hasMessageContaining("0.0");
            m.model().namedParameters().forEach((n, p) -> {
                if (n.contains("base_layer")) {
                    assertThat(p.value().toFloatArray()).as(n).containsExactly(before.get(n));
                }
            });
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void aMixedBatchRoutesEachRowThroughItsOwnAdapter(String name) {
        try (Backend b = Peft.backend(name)) {
            PeftModel m = TinyBert.plain(b);
            m.addAdapter("a", config(true));
            m.addAdapter("b", Ia3Config.builder().targetModules("query", "output.dense").feedforwardModules("output.dense")
                    .build());
            TinyBert.randomize(m, "a", 21);
            TinyBert.randomize(m, "b", 41);
            TinyBert.assertMixedBatchMatchesSingleAdapters(m);
        }
    }
}
