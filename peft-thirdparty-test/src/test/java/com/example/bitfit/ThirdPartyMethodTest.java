package com.example.bitfit;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.core.Peft;
import org.peft4j.api.PeftException;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.core.io.PeftJson;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.api.nn.Functional;
import org.peft4j.api.nn.Linear;
import org.peft4j.train.AdamW;
import org.peft4j.core.PeftRegistry;
import org.peft4j.testkit.Reference;
import org.peft4j.testkit.TinyMlp;

/**
 * Issue 5 item 6: a method shipped by a third party (this module, which depends on peft-api only)
 * is discovered, configured from JSON, trained and saved/loaded through peft4j's public API.
 */
class ThirdPartyMethodTest {
    private static final String JSON = "{\"peft_type\": \"BITFIT\", \"target_modules\": [\"fc1\", \"fc2\"], "
            + "\"modules_to_save\": [\"classifier\"], \"task_type\": \"SEQ_CLS\"}";
    private static final long[] LABELS = {0, 1, 1, 0, 1, 0};

    @TempDir
    Path dir;

    @Test
    void theRegistryFindsTheMethodThroughItsOwnServiceFile() {
        PeftRegistry registry = PeftRegistry.discover();
        assertThat(registry.tuners()).containsKey("BITFIT");
        assertThat(registry.tuner("bitfit")).isInstanceOf(BitFitTuner.class);
        PeftConfig c = registry.parseConfig(JSON);
        assertThat(c).isInstanceOf(BitFitConfig.class);
        assertThat(c.modulesToSave()).containsExactly("classifier");
        assertThat(registry.parseConfig(PeftJson.write(c))).isEqualTo(c);
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void itTrainsSavesAndLoadsLikeABuiltInMethod(String name) throws Exception {
        Path out = dir.resolve(name);
        float[] trained;
        float[] xs = Reference.randoms(6 * 8, 4);
        try (Backend b = Peft.backend(name)) {
            PeftModel m = new PeftModel(new TinyMlp(b, 8, 16, 2, 1), Peft.registry(), 3);
            Tensor x = b.keep(b.fromFloats(xs, 6, 8));
            float[] base = ((TinyMlp) m.model()).forward(x).toFloatArray();
            m.addAdapter("default", Peft.registry().parseConfig(JSON));
            assertThat(((TinyMlp) m.model()).forward(x).toFloatArray()).containsExactly(base);
            // shifts for fc1 (16) and fc2 (16) plus the head (16 x 2 + 2)
            assertThat(m.parameterCount().trainable()).isEqualTo(16 + 16 + 34);

            AdamW opt = new AdamW(m.trainableParameters(), new AdamW.Options(0.9f, 0.999f, 1e-8f, 0f));
            float first = 0;
            float last = 0;
            for (int step = 0; step < 15; step++) {
                try (Scope s = b.scope()) {
                    Gradients g = b.gradients(opt.parameters(),
                            () -> Functional.crossEntropy(((TinyMlp) m.model()).forward(x), LABELS));
                    first = step == 0 ? g.loss() : first;
                    last = g.loss();
                    opt.step(g, 5e-2f);
                }
            }
            assertThat(last).isLessThan(first);
            trained = ((TinyMlp) m.model()).forward(x).toFloatArray();
            m.save(out, "default");
        }
        try (var files = Files.list(out)) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder("adapter_config.json", "adapter_model.safetensors");
        }
        AdapterFiles.Loaded loaded = AdapterFiles.load(out, Peft.registry());
        assertThat(loaded.config()).isInstanceOf(BitFitConfig.class);
        assertThat(loaded.tensors().keySet()).containsExactlyInAnyOrder("base_model.model.fc1.bitfit_bias",
                "base_model.model.fc2.bitfit_bias", "base_model.model.classifier.weight",
                "base_model.model.classifier.bias");
        try (Backend b = Peft.backend(name)) {
            PeftModel m = new PeftModel(new TinyMlp(b, 8, 16, 2, 1), Peft.registry(), 99);
            m.loadAdapter("default", out);
            try (Scope s = b.scope()) {
                float[] y = ((TinyMlp) m.model()).forward(b.fromFloats(xs, 6, 8)).toFloatArray();
                assertThat(Reference.maxAbsDiff(y, trained)).isLessThan(1e-5f);
            }
            m.deleteAdapter("default");
            assertThat(m.model().find("fc1")).isInstanceOf(Linear.class);
            // the method did not declare merging: the API's default refuses with a clear message
            m.addAdapter("again", Peft.registry().parseConfig(JSON));
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> m.merge("again"))
                    .isInstanceOf(PeftException.class).hasMessageContaining("BITFIT");
        }
    }
}
