package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.core.Peft;
import org.peft4j.api.PeftException;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Linear;
import org.peft4j.core.tuner.RowAdapters;
import org.peft4j.testkit.Reference;
import org.peft4j.testkit.TinyMlp;

/** HF PEFT's model operations on LoRA adapters: set, delete, disable, merge and unload, mixed batches, weighted combinations. */
class AdapterOperationsTest {
    private static final int IN = 8;

    private static LoraConfig random(int r, String... targets) {
        return LoraConfig.builder().r(r).loraAlpha(2 * r).targetModules(targets)
                .initLoraWeights(LoraConfig.InitLoraWeights.RANDOM).build();
    }

    private static float[] out(PeftModel m, Tensor x) {
        return ((TinyMlp) m.model()).forward(x).toFloatArray();
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void setAdapterSwitchesBetweenAdaptersAndDisableRestoresTheBase(String name) {
        try (Backend b = Peft.backend(name); Scope s = b.scope()) {
            Tensor x = b.fromFloats(Reference.randoms(4 * IN, 5), 4, IN);
            PeftModel m = new PeftModel(new TinyMlp(b, IN, 16, 2, 1), Peft.registry(), 3);
            float[] base = out(m, x);
            m.addAdapter("a", random(4, "fc1", "fc2"));
            m.addAdapter("b", random(2, "fc2"));
            m.setAdapter("a");
            assertThat(m.activeAdapters()).containsExactly("a");
            float[] onlyA = out(m, x);
            m.setAdapter("b");
            float[] onlyB = out(m, x);
            assertThat(Reference.maxAbsDiff(onlyA, base)).isGreaterThan(1e-3f);
            assertThat(Reference.maxAbsDiff(onlyA, onlyB)).isGreaterThan(1e-3f);

            try (var off = m.disableAdapter()) {
                assertThat(m.activeAdapters()).isEmpty();
                assertThat(Reference.maxAbsDiff(out(m, x), base)).isLessThan(1e-6f);
            }
            assertThat(m.activeAdapters()).containsExactly("b");
            assertThat(Reference.maxAbsDiff(out(m, x), onlyB)).isLessThan(1e-6f);

            // a merged adapter is taken out for the disabled block and folded in again after it
            m.merge("b");
            try (var off = m.disableAdapter()) {
                assertThat(Reference.maxAbsDiff(out(m, x), base)).isLessThan(1e-5f);
            }
            assertThat(Reference.maxAbsDiff(out(m, x), onlyB)).isLessThan(1e-5f);

            assertThatThrownBy(() -> m.setAdapter("c")).isInstanceOf(PeftException.class)
                    .hasMessageContaining("'c'").hasMessageContaining("[a, b]");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void deleteAdapterRemovesItsLayersAndRestoresPlainLinears(String name) {
        try (Backend b = Peft.backend(name); Scope s = b.scope()) {
            Tensor x = b.fromFloats(Reference.randoms(4 * IN, 6), 4, IN);
            PeftModel m = new PeftModel(new TinyMlp(b, IN, 16, 2, 1), Peft.registry(), 3);
            float[] base = out(m, x);
            long baseCount = m.parameterCount().total();
            m.addAdapter("a", random(4, "fc1", "fc2"));
            m.addAdapter("b", random(2, "fc2"));
            m.setAdapter("b");
            float[] onlyB = out(m, x);

            m.deleteAdapter("a");
            assertThat(m.adapters()).containsOnlyKeys("b");
            assertThat(m.model().find("fc1")).isInstanceOf(Linear.class);
            assertThat(m.model().namedParameters().keySet()).noneMatch(k -> k.contains(".a."));
            assertThat(Reference.maxAbsDiff(out(m, x), onlyB)).isLessThan(1e-6f);

            m.deleteAdapter("b");
            assertThat(m.model().find("fc2")).isInstanceOf(Linear.class);
            assertThat(m.parameterCount().total()).isEqualTo(baseCount);
            assertThat(m.parameterCount().trainable()).isZero();
            assertThat(Reference.maxAbsDiff(out(m, x), base)).isLessThan(1e-6f);
            assertThatThrownBy(() -> m.deleteAdapter("b")).isInstanceOf(PeftException.class)
                    .hasMessageContaining("no adapter 'b'");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void mergeAndUnloadLeavesThePlainModelComputingTheAdaptedOutput(String name) {
        try (Backend b = Peft.backend(name); Scope s = b.scope()) {
            Tensor x = b.fromFloats(Reference.randoms(4 * IN, 7), 4, IN);
            TinyMlp mlp = new TinyMlp(b, IN, 16, 2, 1);
            Map<String, ?> baseNames = Map.copyOf(mlp.namedParameters());
            PeftModel m = new PeftModel(mlp, Peft.registry(), 3);
            m.addAdapter("default", random(4, "fc1", "fc2"));
            float[] adapted = out(m, x);

            TinyMlp merged = (TinyMlp) m.mergeAndUnload();
            assertThat(merged.namedParameters().keySet()).isEqualTo(baseNames.keySet());
            assertThat(m.adapters()).isEmpty();
            assertThat(Reference.maxAbsDiff(merged.forward(x).toFloatArray(), adapted)).isLessThan(1e-5f);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void unmergeRestoresTheBaseWeights(String name) {
        try (Backend b = Peft.backend(name); Scope s = b.scope()) {
            PeftModel m = new PeftModel(new TinyMlp(b, IN, 16, 2, 1), Peft.registry(), 3);
            float[] before = m.model().namedParameters().get("fc1.weight").value().toFloatArray();
            m.addAdapter("default", random(4, "fc1"));
            m.merge("default");
            float[] mergedW = m.model().namedParameters().get("fc1.base_layer.weight").value().toFloatArray();
            assertThat(Reference.maxAbsDiff(mergedW, before)).isGreaterThan(1e-3f);
            m.unmerge("default");
            float[] after = m.model().namedParameters().get("fc1.base_layer.weight").value().toFloatArray();
            assertThat(Reference.maxAbsDiff(after, before)).isLessThan(1e-6f);
        }
    }

    /**
     * In inference the adapters' A and B are stacked into one product per layer (ranks may
     * differ); in training every layer runs the row groups one by one. Both equal row-by-row runs.
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"djl,2,false", "djl,4,false", "djl,4,true", "nd4j,2,false", "nd4j,4,false"})
    void aMixedAdapterBatchEqualsRunningEachRowWithItsOwnAdapter(String name, int rankB, boolean training) {
        try (Backend b = Peft.backend(name); Scope s = b.scope()) {
            int rows = 5;
            int in = 64; // wide enough that the stacked path (K x r <= in / 4) applies
            float[] xs = Reference.randoms(rows * in, 8);
            PeftModel m = new PeftModel(new TinyMlp(b, in, 64, 2, 1), Peft.registry(), 3);
            m.addAdapter("a", random(4, "fc1", "fc2"));
            m.addAdapter("b", random(rankB, "fc2"));
            m.model().setTraining(training);
            List<String> route = List.of("b", RowAdapters.BASE, "a", "b", "a");
            assertMixedEqualsAlone(m, b, xs, in, route);
            if (!training) {
                // the stacked A's and B's are kept between calls; a replaced parameter or a changed adapter
                // set is seen by the next batch
                var bB = m.model().namedParameters().get("fc2.lora_B.b.weight");
                bB.set(bB.value().mul(3f).add(0.5f));
                assertMixedEqualsAlone(m, b, xs, in, route);
                m.addAdapter("c", random(2, "fc1", "fc2"));
                assertMixedEqualsAlone(m, b, xs, in, List.of("c", "a", "b", RowAdapters.BASE, "c"));
                m.deleteAdapter("c");
                assertMixedEqualsAlone(m, b, xs, in, route);
            }
            assertThatThrownBy(() -> m.withRowAdapters(List.of("zzz"), () -> null))
                    .isInstanceOf(PeftException.class).hasMessageContaining("zzz").hasMessageContaining("[a, b]");
            m.merge("a");
            assertThatThrownBy(() -> m.withRowAdapters(route, () -> null)).isInstanceOf(PeftException.class)
                    .hasMessageContaining("merged");
        }
    }

    /** Each row of a mixed batch over {@code route} equals that row run alone with its adapter. */
    private static void assertMixedEqualsAlone(PeftModel m, Backend b, float[] xs, int in, List<String> route) {
        int rows = route.size();
        float[] mixed = m.withRowAdapters(route, () -> out(m, b.fromFloats(xs, rows, in)));
        for (int i = 0; i < rows; i++) {
            Tensor row = b.fromFloats(java.util.Arrays.copyOfRange(xs, i * in, (i + 1) * in), 1, in);
            float[] alone;
            if (route.get(i).equals(RowAdapters.BASE)) {
                try (var off = m.disableAdapter()) {
                    alone = out(m, row);
                }
            } else {
                m.setAdapter(route.get(i));
                alone = out(m, row);
            }
            float[] got = java.util.Arrays.copyOfRange(mixed, i * 2, i * 2 + 2);
            assertThat(Reference.maxAbsDiff(got, alone)).as("row %d (%s)", i, route.get(i)).isLessThan(1e-5f);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void weightedCombinationsFollowHfFormulas(String name) {
        try (Backend b = Peft.backend(name); Scope s = b.scope()) {
            Tensor x = b.fromFloats(Reference.randoms(4 * IN, 9), 4, IN);
            PeftModel m = new PeftModel(new TinyMlp(b, IN, 16, 2, 1), Peft.registry(), 3);
            m.addAdapter("a", random(4, "fc1", "fc2"));
            m.addAdapter("b", random(2, "fc2"));
            assertThat(m.activeAdapters()).containsExactly("a");
            float[] before = out(m, x);
            float[] w0 = weight(m, "fc2.base_layer.weight");
            float[] da = delta(m, "a", "fc2.base_layer.weight", w0);
            float[] db = delta(m, "b", "fc2.base_layer.weight", w0);

            // cat is exact: the update is 0.7 * delta_a - 1.5 * delta_b
            WeightedAdapters.add(m, List.of("a", "b"), List.of(0.7, -1.5), "cat", WeightedAdapters.Combination.CAT);
            assertThat(((LoraConfig) m.config("cat")).r()).isEqualTo(6);
            assertThat(m.activeAdapters()).doesNotContain("cat");
            float[] dc = delta(m, "cat", "fc2.base_layer.weight", w0);
            float[] want = new float[dc.length];
            for (int i = 0; i < want.length; i++) {
                want[i] = 0.7f * da[i] - 1.5f * db[i];
            }
            assertThat(Reference.maxAbsDiff(dc, want)).isLessThan(1e-5f);
            // fc1 only had adapter a: its share is 0.7 * delta_a there
            float[] w1 = weight(m, "fc1.base_layer.weight");
            float[] da1 = delta(m, "a", "fc1.base_layer.weight", w1);
            float[] dc1 = delta(m, "cat", "fc1.base_layer.weight", w1);
            for (int i = 0; i < da1.length; i++) {
                da1[i] *= 0.7f;
            }
            assertThat(Reference.maxAbsDiff(dc1, da1)).isLessThan(1e-5f);

            // linear of one adapter scales its update by the weight
            WeightedAdapters.add(m, List.of("a"), List.of(0.25), "lin", WeightedAdapters.Combination.LINEAR);
            float[] dl = delta(m, "lin", "fc2.base_layer.weight", w0);
            for (int i = 0; i < da.length; i++) {
                da[i] *= 0.25f;
            }
            assertThat(Reference.maxAbsDiff(dl, da)).isLessThan(1e-5f);
            assertThatThrownBy(() -> WeightedAdapters.add(m, List.of("a", "b"), List.of(1.0, 1.0), "bad",
                    WeightedAdapters.Combination.LINEAR)).isInstanceOf(PeftException.class)
                    .hasMessageContaining("equal ranks");
            // combining adds inactive adapters and a refused combination adds none: the model still
            // computes what the active adapter computed before
            assertThat(m.adapters()).containsOnlyKeys("a", "b", "cat", "lin");
            assertThat(m.activeAdapters()).containsExactly("a");
            assertThat(Reference.maxAbsDiff(out(m, x), before)).isLessThan(1e-5f);
        }
    }

    private static float[] weight(PeftModel m, String path) {
        return m.model().namedParameters().get(path).value().toFloatArray();
    }

    /** The update adapter {@code name} makes to a base weight, read by merging and unmerging it. */
    private static float[] delta(PeftModel m, String name, String path, float[] base) {
        m.merge(name);
        float[] merged = weight(m, path);
        m.unmerge(name);
        float[] d = new float[merged.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = merged[i] - base[i];
        }
        return d;
    }

    /**
     * modules_to_save as HF matches it: by path suffix; an entry matching nothing (HF's
     * classification configs list both "classifier" and "score") is skipped; a list matching
     * nothing at all is an error naming it, and the model is left unchanged.
     */
    @Test
    void modulesToSaveMatchesBySuffixAndSkipsEntriesHfAddsForOtherModels() {
        try (Backend b = Peft.backend("djl"); Scope s = b.scope()) {
            PeftModel m = new PeftModel(new TinyMlp(b, IN, 16, 2, 1), Peft.registry(), 3);
            m.addAdapter("a", LoraConfig.builder().r(2).targetModules("fc1").modulesToSave("classifier", "score").build());
            assertThat(m.model().trainableParameters().keySet()).contains("classifier.weight");
            assertThat(m.savedState("a").keySet()).contains("base_model.model.classifier.weight")
                    .noneMatch(k -> k.contains("score"));
            assertThatThrownBy(() -> m.addAdapter("b", LoraConfig.builder().r(2).targetModules("fc2")
                    .modulesToSave("score", "head").build()))
                    .isInstanceOf(org.peft4j.api.PeftException.class).hasMessageContaining("[score, head]")
                    .hasMessageContaining("classifier");
            assertThat(m.adapters().keySet()).containsExactly("a");
        }
    }
}
