package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.core.Peft;
import org.peft4j.api.PeftException;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.core.tuner.RowAdapters;
import org.peft4j.testkit.Reference;
import org.peft4j.testkit.TinyMlp;

/** DoRA (use_dora): identity at init, HF's weight formula, merge, gradients and the file layout. */
class DoraTest {
    private static final int IN = 8;
    private static final int HIDDEN = 16;

    @TempDir
    Path dir;

    private static PeftModel dora(Backend b, LoraConfig.InitLoraWeights init) {
        PeftModel m = new PeftModel(new TinyMlp(b, IN, HIDDEN, 2, 1), Peft.registry(), 4);
        m.addAdapter("default", LoraConfig.builder().r(4).loraAlpha(8).targetModules("fc1").useDora(true)
                .initLoraWeights(init).build());
        return m;
    }

    private static float[] out(PeftModel m, Tensor x) {
        return ((TinyMlp) m.model()).forward(x).toFloatArray();
    }

    private static float[] values(PeftModel m, String name) {
        return m.model().namedParameters().get(name).value().toFloatArray();
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void identityAtInitAndTheMergedWeightIsHfsFormula(String name) {
        try (Backend b = Peft.backend(name); Scope s = b.scope()) {
            Tensor x = b.fromFloats(Reference.randoms(3 * IN, 2), 3, IN);
            float[] base = out(new PeftModel(new TinyMlp(b, IN, HIDDEN, 2, 1), Peft.registry(), 4), x);
            assertThat(Reference.maxAbsDiff(out(dora(b, LoraConfig.InitLoraWeights.DEFAULT), x), base))
                    .isLessThan(1e-6f);

            PeftModel m = dora(b, LoraConfig.InitLoraWeights.RANDOM);
            assertThat(m.adapterState("default")).containsOnlyKeys("base_model.model.fc1.lora_A.weight",
                    "base_model.model.fc1.lora_B.weight", "base_model.model.fc1.lora_magnitude_vector");
            // move the magnitude away from the initial norms, as training would
            Parameter mag = m.model().namedParameters().get("fc1.lora_magnitude_vector.default.weight");
            mag.set(mag.value().mul(b.fromFloats(Reference.randoms(HIDDEN, 3), HIDDEN).abs().add(0.5f)));
            float[] w = values(m, "fc1.base_layer.weight");
            float[] a = values(m, "fc1.lora_A.default.weight");
            float[] bb = values(m, "fc1.lora_B.default.weight");
            float[] mv = mag.value().toFloatArray();
            float scaling = 8f / 4;
            float[] expected = new float[w.length];
            for (int o = 0; o < HIDDEN; o++) {
                double norm = 0;
                for (int i = 0; i < IN; i++) {
                    float d = 0;
                    for (int k = 0; k < 4; k++) {
                        d += bb[o * 4 + k] * a[k * IN + i];
                    }
                    expected[o * IN + i] = w[o * IN + i] + scaling * d;
                    norm += expected[o * IN + i] * expected[o * IN + i];
                }
                for (int i = 0; i < IN; i++) {
                    expected[o * IN + i] *= (float) (mv[o] / Math.sqrt(norm));
                }
            }
            float[] unmerged = out(m, x);
            m.merge("default");
            assertThat(Reference.maxAbsDiff(values(m, "fc1.base_layer.weight"), expected)).isLessThan(1e-5f);
            assertThat(Reference.maxAbsDiff(out(m, x), unmerged)).isLessThan(1e-5f);
            m.unmerge("default");
            assertThat(Reference.maxAbsDiff(values(m, "fc1.base_layer.weight"), w)).isLessThan(1e-6f);
            assertThatThrownBy(() -> m.withRowAdapters(List.of("default", "default", "default"), () -> out(m, x)))
                    .isInstanceOf(PeftException.class).hasMessageContaining("DoRA");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void theMagnitudeGetsGradientsAndSurvivesASaveLoadRoundTrip(String name) {
        try (Backend b = Peft.backend(name); Scope s = b.scope()) {
            Tensor x = b.fromFloats(Reference.randoms(3 * IN, 5), 3, IN);
            PeftModel m = dora(b, LoraConfig.InitLoraWeights.RANDOM);
            List<Parameter> params = m.trainableParameters();
            assertThat(params).hasSize(3);
            Gradients g = b.gradients(params, () -> ((TinyMlp) m.model()).forward(x).square().sum(false));
            for (Parameter p : params) {
                assertThat(g.grads().get(params.indexOf(p)).abs().sum(false).item()).as(p.toString()).isGreaterThan(0f);
            }
            float[] before = out(m, x);
            m.save(dir, "default");
            PeftModel loaded = new PeftModel(new TinyMlp(b, IN, HIDDEN, 2, 1), Peft.registry(), 99);
            loaded.loadAdapter("default", dir);
            assertThat(Reference.maxAbsDiff(out(loaded, x), before)).isLessThan(1e-6f);
            assertThat(RowAdapters.current()).isNull();
        }
    }
}
