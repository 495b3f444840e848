package org.peft4j.adapter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
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
import org.peft4j.api.nn.InsertionPoint;
import org.peft4j.models.bert.TinyBert;
import org.peft4j.testkit.Reference;

/** Bottleneck adapters (Houlsby, Pfeiffer, parallel) on a small random BERT, on every backend. */
class BottleneckAdapterTest {
    private static final int M = 4;
    private static final String FFN = "bert.encoder.layer.0.output.adapter";
    private static final String ATT = "bert.encoder.layer.0.attention.output.adapter";

    @TempDir
    Path dir;

    private static BottleneckConfig config(String preset) {
        return BottleneckConfig.builder(preset).bottleneckSize(M).modulesToSave("classifier").build();
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void everyPresetStartsAsTheBaseModelWithTheDocumentedParameterCount(String name) {
        try (Backend b = Peft.backend(name)) {
            PeftModel plain = TinyBert.plain(b);
            float[] base = TinyBert.out(plain);
            long baseTotal = plain.parameterCount().total();
            long d = TinyBert.HIDDEN;
            long perAdapter = 2 * M * d + d + M; // down m x d + m, up d x m + d
            Map<String, Long> expected = Map.of(
                    "pfeiffer", TinyBert.LAYERS * perAdapter,
                    // after attention and after the FFN, each with its own LayerNorm (2d)
                    "houlsby", TinyBert.LAYERS * 2 * (perAdapter + 2 * d),
                    // parallel beside the FFN's output projection: reads the intermediate activations
                    "parallel", TinyBert.LAYERS * (M * TinyBert.INTERMEDIATE + M + d * M + d));
            for (String preset : new String[] {"pfeiffer", "houlsby", "parallel"}) {
                PeftModel m = TinyBert.withAdapter(b, config(preset));
                assertThat(Reference.maxAbsDiff(TinyBert.out(m), base)).as(preset).isLessThanOrEqualTo(1e-5f);
                assertThat(m.parameterCount().trainable()).as(preset).isEqualTo(expected.get(preset) + TinyBert.HEAD);
                assertThat(m.parameterCount().total()).as(preset).isEqualTo(baseTotal + expected.get(preset));
            }
            PeftModel houlsby = TinyBert.withAdapter(b, config("houlsby"));
            assertThat(houlsby.model().find(ATT)).isInstanceOf(BottleneckLayer.class);
            PeftModel pfeiffer = TinyBert.withAdapter(b, config("pfeiffer"));
            assertThat(pfeiffer.model().find(ATT).getClass()).isEqualTo(InsertionPoint.class);
            assertThat(pfeiffer.model().find(FFN)).isInstanceOf(BottleneckLayer.class);
            // reduction_factor sizes the bottleneck when no explicit size is given: 16 / 4 = 4
            PeftModel reduced = TinyBert.withAdapter(b, BottleneckConfig.builder("pfeiffer").reductionFactor(4).build());
            assertThat(reduced.adapterState("default").get("base_model.model." + FFN + ".adapter_down.weight").value()
                    .shape()).containsExactly(4, 16);
        }
    }

    @Test
    void leaveOutSkipsTheListedLayers() {
        try (Backend b = Peft.backend("djl")) {
            assertThat(Peft.registry().tuner("BOTTLENECK").configClass()).isEqualTo(BottleneckConfig.class);
            PeftModel m = TinyBert.withAdapter(b, BottleneckConfig.builder("houlsby").bottleneckSize(M).leaveOut(0).build());
            assertThat(m.model().find(FFN).getClass()).isEqualTo(InsertionPoint.class);
            assertThat(m.model().find(ATT).getClass()).isEqualTo(InsertionPoint.class);
            assertThat(m.model().find("bert.encoder.layer.1.output.adapter")).isInstanceOf(BottleneckLayer.class);
            assertThatThrownBy(() -> TinyBert.withAdapter(b, BottleneckConfig.builder("pfeiffer").leaveOut(0, 1).build()))
                    .isInstanceOf(PeftException.class).hasMessageContaining("leave_out=[0, 1]")
                    .hasMessageContaining(FFN);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void trainingLowersTheLossAndChangesOnlyTheAdapterAndTheHead(String name) {
        try (Backend b = Peft.backend(name)) {
            for (String preset : new String[] {"houlsby", "parallel"}) {
                PeftModel m = TinyBert.withAdapter(b, config(preset));
                Map<String, float[]> before = TinyBert.snapshot(m);
                float[] loss = TinyBert.train(m, 10, 1e-2f);
                assertThat(loss[1]).as(preset).isLessThan(loss[0]);
                m.model().namedParameters().forEach((n, p) -> {
                    boolean changed = !Arrays.equals(before.get(n), p.value().toFloatArray());
                    if (n.contains(".adapter_up.") || n.startsWith("classifier.")) {
                        assertThat(changed).as(preset + " " + n + " trained").isTrue();
                    } else if (!n.contains(".adapter.")) {
                        assertThat(changed).as(preset + " " + n + " frozen").isFalse();
                    }
                });
            }
        }
    }

    @Test
    void saveThenLoadIsExactAcrossBackendsAndUsesThePeft4jLayout() throws Exception {
        float[] trained;
        Map<String, HostTensor> saved = new java.util.LinkedHashMap<>();
        try (Backend b = Peft.backend("djl")) {
            PeftModel m = TinyBert.withAdapter(b, config("houlsby"));
            TinyBert.train(m, 3, 1e-2f);
            trained = TinyBert.out(m);
            m.savedState("default").forEach((k, t) -> saved.put(k, HostTensor.of(t)));
            m.save(dir, "default");
        }
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder("adapter_config.json", "adapter_model.safetensors");
        }
        var json = PeftJson.mapper().readTree(dir.resolve("adapter_config.json").toFile());
        assertThat(json.get("peft_type").asText()).isEqualTo("BOTTLENECK");
        assertThat(json.get("config").asText()).isEqualTo("houlsby");
        AdapterFiles.Loaded loaded = AdapterFiles.load(dir, Peft.registry());
        String p = "base_model.model." + FFN;
        assertThat(loaded.tensors().keySet()).contains(p + ".adapter_down.weight", p + ".adapter_down.bias",
                p + ".adapter_up.weight", p + ".adapter_up.bias", p + ".adapter_norm_before.weight",
                p + ".adapter_norm_before.bias", "base_model.model." + ATT + ".adapter_up.weight",
                "base_model.model.classifier.weight");
        assertThat(loaded.tensors().get(p + ".adapter_down.weight").shape()).containsExactly(M, 16);
        assertThat(loaded.tensors().get(p + ".adapter_up.weight").shape()).containsExactly(16, M);
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

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void switchingDeletingAndMergingBehaveAsDocumented(String name) {
        try (Backend b = Peft.backend(name)) {
            PeftModel m = TinyBert.plain(b);
            float[] base = TinyBert.out(m);
            long baseTotal = m.parameterCount().total();
            // no modules_to_save here: deleting both adapters must give back the base model exactly
            m.addAdapter("a", BottleneckConfig.builder("pfeiffer").bottleneckSize(M).build());
            m.addAdapter("b", BottleneckConfig.builder("parallel").bottleneckSize(M).build());
            // as in HF PEFT, the second adapter is added inactive: train each while it is the active one
            assertThat(m.activeAdapters()).containsExactly("a");
            TinyBert.train(m, 3, 5e-2f);
            m.setAdapter("b");
            TinyBert.train(m, 3, 5e-2f);
            m.setAdapter("a");
            float[] onlyA = TinyBert.out(m);
            m.setAdapter("b");
            float[] onlyB = TinyBert.out(m);
            assertThat(Reference.maxAbsDiff(onlyA, base)).isGreaterThan(1e-4f);
            assertThat(Reference.maxAbsDiff(onlyA, onlyB)).isGreaterThan(1e-4f);
            try (var off = m.disableAdapter()) {
                assertThat(Reference.maxAbsDiff(TinyBert.out(m), base)).isLessThan(1e-6f);
            }
            assertThat(Reference.maxAbsDiff(TinyBert.out(m), onlyB)).isLessThan(1e-6f);

            assertThatThrownBy(() -> m.merge("b")).isInstanceOf(PeftException.class)
                    .hasMessageContaining("cannot be merged").hasMessageContaining("'b'");
            assertThatThrownBy(m::mergeAndUnload).isInstanceOf(PeftException.class)
                    .hasMessageContaining("BOTTLENECK");
            assertThat(m.adapters()).containsOnlyKeys("a", "b");

            m.deleteAdapter("b");
            m.setAdapter("a");
            assertThat(Reference.maxAbsDiff(TinyBert.out(m), onlyA)).isLessThan(1e-6f);
            m.deleteAdapter("a");
            assertThat(m.model().find(FFN).getClass()).isEqualTo(InsertionPoint.class);
            assertThat(m.parameterCount().total()).isEqualTo(baseTotal);
            assertThat(Reference.maxAbsDiff(TinyBert.out(m), base)).isLessThan(1e-6f);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void aMixedBatchRoutesEachRowThroughItsOwnAdapter(String name) {
        try (Backend b = Peft.backend(name)) {
            PeftModel m = TinyBert.plain(b);
            // a: Houlsby in series with its LayerNorm; b: parallel beside the FFN
            m.addAdapter("a", BottleneckConfig.builder("houlsby").bottleneckSize(M).build());
            m.addAdapter("b", BottleneckConfig.builder("parallel").bottleneckSize(M).build());
            TinyBert.randomize(m, "a", 21);
            TinyBert.randomize(m, "b", 41);
            TinyBert.assertMixedBatchMatchesSingleAdapters(m);
        }
    }
}
