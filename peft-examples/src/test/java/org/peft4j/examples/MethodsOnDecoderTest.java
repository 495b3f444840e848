package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.peft4j.api.Peft;
import org.peft4j.api.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.optim.AdamW;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.llama.LlamaForCausalLM;
import org.peft4j.prefix.PrefixTuningConfig;
import org.peft4j.prompt.PromptEncoderConfig;
import org.peft4j.prompt.PromptTuningConfig;
import org.peft4j.testkit.Reference;
import org.peft4j.testkit.TinyLlama;

/**
 * Methods on the LLaMA decoder, both backends: LoRA (on the projections, head in
 * modules_to_save) is the base at init, merges exactly and trains only its parameters; prompt,
 * P-tuning and prefix tuning train the LM loss down.
 */
class MethodsOnDecoderTest {
    private static final long[] IDS = {1, 7, 23, 5, 60, 12, 3, 44, 9, 31, 2, 8, 14, 19, 27, 33};

    @TempDir
    Path dir;

    static Stream<Arguments> cases() {
        List<PeftConfig> configs = List.of(
                LoraConfig.builder().r(4).loraAlpha(8).targetModules("q_proj", "v_proj", "down_proj")
                        .modulesToSave("lm_head").build(),
                PromptTuningConfig.random(3),
                PromptEncoderConfig.of(3, "MLP", 16),
                PrefixTuningConfig.of(3, false, null));
        return Stream.of("djl", "nd4j").flatMap(b -> configs.stream().map(c -> Arguments.of(b, c)));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void adaptsTheDecoderAndTrainsTheLmLossDown(String name, PeftConfig config) {
        Path folder = TinyLlama.write(dir.resolve("m"), TinyLlama.weights(3));
        try (Backend b = Peft.backend(name); Scope s = b.scope()) {
            LlamaForCausalLM lm = LlamaForCausalLM.load(b, folder);
            float[] base = lm.forward(b.fromLongs(IDS, 2, 8), null, null).toFloatArray();
            PeftModel peft = new PeftModel(lm, Peft.registry(), 5);
            peft.addAdapter("default", config);
            List<Parameter> params = peft.trainableParameters();
            if (config instanceof LoraConfig) {
                long lora = 2L * (4 * (32 + 32) + 4 * (32 + 16) + 4 * (64 + 32));
                assertThat(peft.parameterCount().trainable()).isEqualTo(lora + 64 * 32);
                float[] init = lm.forward(b.fromLongs(IDS, 2, 8), null, null).toFloatArray();
                assertThat(Reference.maxAbsDiff(init, base)).isLessThan(1e-6f);
            }
            AdamW opt = new AdamW(params, AdamW.Options.DEFAULT);
            float first = 0;
            float last = 0;
            for (int step = 0; step < 12; step++) {
                try (Scope st = b.scope()) {
                    Gradients g = b.gradients(params, () -> lm.loss(b.fromLongs(IDS, 2, 8), null));
                    if (step == 0) {
                        first = g.loss();
                    }
                    if (step == 1) {
                        // from the second step on: LoRA's A gets no gradient while B is still zero
                        for (int i = 0; i < params.size(); i++) {
                            assertThat(g.grads().get(i).abs().sum(false).item()).as("gradient %d", i).isGreaterThan(0f);
                        }
                    }
                    last = g.loss();
                    opt.step(g, 1e-2f);
                }
            }
            opt.release();
            assertThat(last).isLessThan(first);
            if (config instanceof LoraConfig) {
                float[] unmerged = lm.forward(b.fromLongs(IDS, 2, 8), null, null).toFloatArray();
                peft.merge("default");
                float[] merged = lm.forward(b.fromLongs(IDS, 2, 8), null, null).toFloatArray();
                float scale = 0;
                for (float v : unmerged) {
                    scale = Math.max(scale, Math.abs(v));
                }
                assertThat(Reference.maxAbsDiff(merged, unmerged) / scale).isLessThan(1e-5f);
                assertThat(lm.model().trainableParameters().keySet()).allMatch(k -> k.contains("lora_"));
            }
            // generation runs through the adapted model, prompt and prefix included
            assertThat(lm.generate(new long[] {1, 7, 23}, 4, -1)).hasSize(4);
        }
    }
}
