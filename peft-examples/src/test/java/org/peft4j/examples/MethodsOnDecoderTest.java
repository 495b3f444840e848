package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.core.io.HostTensor;
import org.peft4j.core.io.Safetensors;
import org.peft4j.train.AdamW;
import org.peft4j.adapter.BottleneckConfig;
import org.peft4j.ia3.Ia3Config;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.PretrainedDecoder;
import org.peft4j.models.decoder.CausalLM;
import org.peft4j.prefix.PrefixTuningConfig;
import org.peft4j.prompt.PromptEncoderConfig;
import org.peft4j.prompt.PromptTuningConfig;
import org.peft4j.testkit.Reference;
import org.peft4j.testkit.TinyGpt2;
import org.peft4j.testkit.TinyLlama;

/**
 * Every method on both decoders (LLaMA, GPT-2) and both backends: LoRA (GPT-2's Conv1D
 * projections included), IA3, bottleneck adapters, prompt, P-tuning and prefix tuning leave the
 * base output unchanged at init (where the method promises it), train only their parameters
 * (exact counts), train the LM loss down, merge exactly where mergeable, and generate.
 */
class MethodsOnDecoderTest {
    private static final long[] IDS = {1, 7, 23, 5, 60, 12, 3, 44, 9, 31, 2, 8, 14, 15, 11, 13};

    @TempDir
    Path dir;

    /** A decoder under test: how to write it, and its per-method configs with the expected trainable counts. */
    enum Decoder {
        LLAMA {
            Path write(Path d) {
                return TinyLlama.write(d, TinyLlama.weights(3));
            }

            PeftConfig lora() {
                return LoraConfig.builder().r(4).loraAlpha(8).targetModules("q_proj", "v_proj", "down_proj")
                        .modulesToSave("lm_head").build();
            }

            long loraCount() {
                return 2L * (4 * (32 + 32) + 4 * (32 + 16) + 4 * (64 + 32)) + 64 * 32;
            }

            PeftConfig ia3() {
                return Ia3Config.builder().targetModules("k_proj", "v_proj", "down_proj").feedforwardModules("down_proj").build();
            }

            long ia3Count() {
                return 2L * (16 + 16 + 64);
            }
        },
        GPT2 {
            Path write(Path d) {
                return TinyGpt2.write(d, TinyGpt2.weights(3));
            }

            PeftConfig lora() {
                return LoraConfig.builder().r(4).loraAlpha(8).targetModules("c_attn", "c_fc").modulesToSave("ln_f").build();
            }

            long loraCount() {
                return 2L * (4 * (32 + 96) + 4 * (32 + 128)) + 2 * 32;
            }

            PeftConfig ia3() {
                return Ia3Config.builder().targetModules("c_attn", "mlp.c_proj").feedforwardModules("mlp.c_proj").build();
            }

            long ia3Count() {
                return 2L * (96 + 128);
            }
        };

        abstract Path write(Path dir);

        abstract PeftConfig lora();

        abstract long loraCount();

        abstract PeftConfig ia3();

        abstract long ia3Count();
    }

    static Stream<Arguments> cases() {
        List<String> methods = List.of("lora", "ia3", "bottleneck", "prompt", "p_tuning", "prefix");
        return Stream.of("djl", "nd4j").flatMap(b -> Stream.of(Decoder.values())
                .flatMap(d -> methods.stream().map(m -> Arguments.of(b, d, m))));
    }

    private static PeftConfig config(Decoder d, String method) {
        return switch (method) {
            case "lora" -> d.lora();
            case "ia3" -> d.ia3();
            case "bottleneck" -> BottleneckConfig.builder(BottleneckConfig.HOULSBY).bottleneckSize(8).build();
            case "prompt" -> PromptTuningConfig.random(3);
            case "p_tuning" -> PromptEncoderConfig.of(3, "MLP", 16);
            case "prefix" -> PrefixTuningConfig.of(3, false, null);
            default -> throw new IllegalArgumentException(method);
        };
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("cases")
    void adaptsTheDecoderAndTrainsTheLmLossDown(String name, Decoder decoder, String method) {
        Path folder = decoder.write(dir.resolve("m"));
        PeftConfig config = config(decoder, method);
        try (Backend b = Peft.backend(name); Scope s = b.scope()) {
            CausalLM lm = PretrainedDecoder.load(b, folder);
            lm.setTraining(false);
            float[] base = lm.forward(b.fromLongs(IDS, 2, 8), null, null).toFloatArray();
            PeftModel peft = new PeftModel(lm, Peft.registry(), 5);
            peft.addAdapter("default", config);
            switch (method) {
                case "lora" -> assertThat(peft.parameterCount().trainable()).isEqualTo(decoder.loraCount());
                case "ia3" -> assertThat(peft.parameterCount().trainable()).isEqualTo(decoder.ia3Count());
                // two insertion points per layer, each 2md + d + m plus its LayerNorm (2d)
                case "bottleneck" -> assertThat(peft.parameterCount().trainable()).isEqualTo(4L * (2 * 8 * 32 + 32 + 8 + 64));
                default -> { }
            }
            if (List.of("lora", "ia3", "bottleneck").contains(method)) {
                float[] init = lm.forward(b.fromLongs(IDS, 2, 8), null, null).toFloatArray();
                assertThat(Reference.maxAbsDiff(init, base)).isLessThan(1e-5f);
            }
            List<Parameter> params = peft.trainableParameters();
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
                        // from the second step on: LoRA's A (and an adapter's down-projection) get no gradient while B is zero
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
            if (method.equals("lora") || method.equals("ia3")) {
                float[] unmerged = lm.forward(b.fromLongs(IDS, 2, 8), null, null).toFloatArray();
                peft.merge("default");
                float[] merged = lm.forward(b.fromLongs(IDS, 2, 8), null, null).toFloatArray();
                float scale = 0;
                for (float v : unmerged) {
                    scale = Math.max(scale, Math.abs(v));
                }
                assertThat(Reference.maxAbsDiff(merged, unmerged) / scale).isLessThan(1e-5f);
            }
            // generation runs through the adapted model, prompt and prefix included
            assertThat(lm.generate(new long[] {1, 7, 23}, 4, -1)).hasSize(4);
        }
    }

    @Test
    void gpt2LoraFilesUseHfPeftNamesAndShapes() {
        Path folder = Decoder.GPT2.write(dir.resolve("m"));
        try (Backend b = Peft.backend("djl"); Scope s = b.scope()) {
            CausalLM lm = PretrainedDecoder.load(b, folder);
            PeftModel peft = new PeftModel(lm, Peft.registry(), 5);
            peft.addAdapter("default", LoraConfig.builder().r(4).targetModules("c_attn").fanInFanOut(true).build());
            Path out = dir.resolve("adapter");
            peft.save(out, "default");
            Map<String, HostTensor> tensors = Safetensors.read(out.resolve("adapter_model.safetensors"));
            assertThat(tensors.keySet()).containsExactlyInAnyOrder(
                    "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight",
                    "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight",
                    "base_model.model.transformer.h.1.attn.c_attn.lora_A.weight",
                    "base_model.model.transformer.h.1.attn.c_attn.lora_B.weight");
            assertThat(tensors.get("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight").shape()).containsExactly(4, 32);
            assertThat(tensors.get("base_model.model.transformer.h.0.attn.c_attn.lora_B.weight").shape()).containsExactly(96, 4);
        }
    }
}
