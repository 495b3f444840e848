package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
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
import org.peft4j.api.nn.Functional;
import org.peft4j.train.AdamW;
import org.peft4j.testkit.Reference;
import org.peft4j.testkit.TinyMlp;

/** The walking skeleton on every backend: LoRA on a small MLP, from injection to training. */
class LoraSkeletonTest {
    private static final int IN = 8;
    private static final int HIDDEN = 16;

    private static PeftModel lora(Backend backend, TinyMlp mlp) {
        PeftModel model = new PeftModel(mlp, Peft.registry(), 7);
        model.addAdapter("default", LoraConfig.builder().r(4).loraAlpha(8).targetModules("fc1", "fc2").build());
        return model;
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void onlyLoraParametersTrainAndTheCountsAreExact(String name) {
        try (Backend backend = Peft.backend(name)) {
            TinyMlp mlp = new TinyMlp(backend, IN, HIDDEN, 2, 1);
            long base = mlp.namedParameters().values().stream().mapToLong(Parameter::numel).sum();
            PeftModel model = lora(backend, mlp);
            assertThat(model.model().trainableParameters().keySet()).containsExactly(
                    "fc1.lora_A.default.weight", "fc1.lora_B.default.weight",
                    "fc2.lora_A.default.weight", "fc2.lora_B.default.weight");
            long lora = 4L * (IN + HIDDEN) + 4L * (HIDDEN + HIDDEN);
            assertThat(model.parameterCount().trainable()).isEqualTo(lora);
            assertThat(model.parameterCount().total()).isEqualTo(base + lora);
            assertThat(model.adapterState("default")).containsOnlyKeys(
                    "base_model.model.fc1.lora_A.weight", "base_model.model.fc1.lora_B.weight",
                    "base_model.model.fc2.lora_A.weight", "base_model.model.fc2.lora_B.weight");
            assertThat(model.model().namedParameters()).containsKey("fc1.base_layer.weight");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void outputEqualsTheBaseModelAtInitialisation(String name) {
        try (Backend backend = Peft.backend(name); Scope s = backend.scope()) {
            TinyMlp mlp = new TinyMlp(backend, IN, HIDDEN, 2, 1);
            Tensor x = backend.fromFloats(Reference.randoms(5 * IN, 3), 5, IN);
            float[] before = mlp.forward(x).toFloatArray();
            lora(backend, mlp);
            assertThat(mlp.forward(x).toFloatArray()).containsExactly(before);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void trainingLowersTheLossAndLeavesBaseWeightsAlone(String name) {
        try (Backend backend = Peft.backend(name)) {
            TinyMlp mlp = new TinyMlp(backend, IN, HIDDEN, 2, 1);
            PeftModel model = lora(backend, mlp);
            Map<String, float[]> frozenBefore = new java.util.HashMap<>();
            mlp.namedParameters().forEach((n, p) -> {
                if (!p.trainable()) {
                    frozenBefore.put(n, p.value().toFloatArray());
                }
            });
            // a separable task: label = (x0 + x1 > 0)
            float[] xs = Reference.randoms(64 * IN, 5);
            long[] labels = new long[64];
            for (int i = 0; i < 64; i++) {
                labels[i] = xs[i * IN] + xs[i * IN + 1] > 0 ? 1 : 0;
            }
            Tensor x = backend.keep(backend.fromFloats(xs, 64, IN));
            AdamW opt = new AdamW(model.trainableParameters(), new AdamW.Options(0.9f, 0.999f, 1e-8f, 0f));
            float first = 0;
            float last = 0;
            for (int step = 0; step < 60; step++) {
                try (Scope s = backend.scope()) {
                    Gradients g = backend.gradients(opt.parameters(),
                            () -> Functional.crossEntropy(mlp.forward(x), labels));
                    if (step == 0) {
                        first = g.loss();
                    }
                    last = g.loss();
                    opt.step(g, 0.02f);
                }
            }
            assertThat(last).isLessThan(first * 0.7f);
            mlp.namedParameters().forEach((n, p) -> {
                if (frozenBefore.containsKey(n)) {
                    assertThat(p.value().toFloatArray()).as(n).containsExactly(frozenBefore.get(n));
                }
            });
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void mergedOutputEqualsUnmergedAndUnmergeRestoresTheBase(String name) {
        try (Backend backend = Peft.backend(name); Scope s = backend.scope()) {
            TinyMlp mlp = new TinyMlp(backend, IN, HIDDEN, 2, 1);
            Tensor x = backend.fromFloats(Reference.randoms(5 * IN, 3), 5, IN);
            PeftModel model = new PeftModel(mlp, Peft.registry(), 7);
            model.addAdapter("default", LoraConfig.builder().r(4).targetModules("fc1", "fc2")
                    .initLoraWeights(LoraConfig.InitLoraWeights.RANDOM).build());
            float[] base1 = mlp.child("fc1").child("base_layer").parameters().get("weight").value().toFloatArray();
            float[] unmerged = mlp.forward(x).toFloatArray();
            model.merge("default");
            float[] merged = mlp.forward(x).toFloatArray();
            assertThat(Reference.maxAbsDiff(merged, unmerged)).isLessThan(1e-5f);
            model.unmerge("default");
            float[] restored = mlp.child("fc1").child("base_layer").parameters().get("weight").value().toFloatArray();
            assertThat(Reference.maxAbsDiff(restored, base1)).isLessThan(1e-6f);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl"})
    void aTargetThatMatchesNothingNamesTheClosestModules(String name) {
        try (Backend backend = Peft.backend(name)) {
            PeftModel model = new PeftModel(new TinyMlp(backend, IN, HIDDEN, 2, 1), Peft.registry(), 7);
            assertThatThrownBy(() -> model.addAdapter("default", LoraConfig.builder().targetModules("fc3").build()))
                    .isInstanceOf(PeftException.class).hasMessageContaining("fc3").hasMessageContaining("fc1");
            assertThat(model.adapters()).isEmpty();
            assertThat(model.parameterCount().trainable()).isZero();
            assertThat(List.copyOf(model.model().children().keySet())).containsExactly("fc1", "fc2", "classifier");
        }
    }
}
