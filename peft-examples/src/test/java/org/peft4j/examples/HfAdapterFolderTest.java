package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.lora.LoraConfig;
import org.peft4j.testkit.Reference;
import org.peft4j.testkit.TinyMlp;

/**
 * An adapter folder written byte by byte from Hugging Face PEFT's documented layout, without our
 * writer: the safetensors header by hand, {@code lora_A} (r x in) and {@code lora_B} (out x r)
 * under {@code base_model.model.<path>} without the adapter name, the config as HF PEFT writes
 * it (including keys peft4j does not model), a non-default adapter in a subfolder.
 */
class HfAdapterFolderTest {
    private static final int IN = 8;
    private static final int HIDDEN = 16;
    private static final int R = 2;
    private static final float ALPHA = 6;

    @TempDir
    Path root;

    /** A safetensors file: 8-byte little-endian header length, JSON header padded with spaces, F32 data. */
    private static byte[] safetensors(Map<String, float[]> tensors, Map<String, long[]> shapes) {
        StringBuilder header = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        tensors.forEach((name, values) -> {
            long start = data.size();
            ByteBuffer buf = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : values) {
                buf.putFloat(v);
            }
            data.writeBytes(buf.array());
            long[] shape = shapes.get(name);
            header.append(",\"").append(name).append("\":{\"dtype\":\"F32\",\"shape\":[").append(shape[0]).append(',')
                    .append(shape[1]).append("],\"data_offsets\":[").append(start).append(',').append(data.size())
                    .append("]}");
        });
        header.append('}');
        while (header.length() % 8 != 0) {
            header.append(' ');
        }
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + h.length + data.size()).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(h.length).put(h).put(data.toByteArray());
        return out.array();
    }

    private static final String CONFIG = """
            {
              "alpha_pattern": {},
              "auto_mapping": null,
              "base_model_name_or_path": "tiny-mlp",
              "bias": "none",
              "eva_config": null,
              "exclude_modules": null,
              "fan_in_fan_out": false,
              "inference_mode": true,
              "init_lora_weights": true,
              "layer_replication": null,
              "layers_pattern": null,
              "layers_to_transform": null,
              "loftq_config": {},
              "lora_alpha": 6,
              "lora_bias": false,
              "lora_dropout": 0.05,
              "megatron_config": null,
              "megatron_core": "megatron.core",
              "modules_to_save": null,
              "peft_type": "LORA",
              "r": 2,
              "rank_pattern": {},
              "revision": null,
              "target_modules": ["fc1"],
              "task_type": null,
              "use_dora": false,
              "use_rslora": false
            }
            """;

    @Test
    void aFolderBuiltFromHfRulesLoadsAndGivesTheMergedWeightsOutput() throws Exception {
        float[] a = Reference.randoms(R * IN, 11);
        float[] b = Reference.randoms(HIDDEN * R, 12);
        Map<String, float[]> tensors = new LinkedHashMap<>();
        tensors.put("base_model.model.fc1.lora_A.weight", a);
        tensors.put("base_model.model.fc1.lora_B.weight", b);
        Path dir = AdapterFiles.adapterDir(root, "sentiment");
        assertThat(dir).isEqualTo(root.resolve("sentiment"));
        Files.createDirectories(dir);
        Files.write(dir.resolve("adapter_model.safetensors"), safetensors(tensors,
                Map.of("base_model.model.fc1.lora_A.weight", new long[] {R, IN},
                        "base_model.model.fc1.lora_B.weight", new long[] {HIDDEN, R})));
        Files.writeString(dir.resolve("adapter_config.json"), CONFIG);

        float[] x = Reference.randoms(3 * IN, 13);
        for (String name : new String[] {"djl", "nd4j"}) {
            try (Backend be = Peft.backend(name); Scope s = be.scope()) {
                // expected: the same base model with W + (alpha / r) B A written into fc1 by hand
                TinyMlp plain = new TinyMlp(be, IN, HIDDEN, 2, 5);
                Parameter w = plain.namedParameters().get("fc1.weight");
                float[] merged = w.value().toFloatArray();
                for (int o = 0; o < HIDDEN; o++) {
                    for (int i = 0; i < IN; i++) {
                        float delta = 0;
                        for (int k = 0; k < R; k++) {
                            delta += b[o * R + k] * a[k * IN + i];
                        }
                        merged[o * IN + i] += ALPHA / R * delta;
                    }
                }
                w.set(be.fromFloats(merged, HIDDEN, IN));
                float[] expected = plain.forward(be.fromFloats(x, 3, IN)).toFloatArray();

                PeftModel peft = new PeftModel(new TinyMlp(be, IN, HIDDEN, 2, 5), Peft.registry(), 1);
                peft.loadAdapter("sentiment", dir);
                LoraConfig config = (LoraConfig) peft.config("sentiment");
                assertThat(config.r()).isEqualTo(R);
                assertThat(config.extras()).containsKeys("lora_bias", "megatron_core");
                Tensor y = ((TinyMlp) peft.model()).forward(be.fromFloats(x, 3, IN));
                assertThat(Reference.maxAbsDiff(y.toFloatArray(), expected)).as(name).isLessThan(1e-5f);
            }
        }
    }

    /**
     * GPT-2: HF PEFT wraps the Conv1D {@code c_attn} with {@code fan_in_fan_out = true}; its
     * {@code lora_A} is (r x in) and {@code lora_B} (out x r) as for any layer, and merging adds
     * {@code (alpha / r) (B A)^T} to the Conv1D weight (in x out). Loading such a folder must give
     * the plain-Java GPT-2 forward run on those HF-merged weights.
     */
    @Test
    void aGpt2Conv1dAdapterGivesTheOutputOfHfsTransposedMerge() throws Exception {
        int embd = org.peft4j.testkit.TinyGpt2.EMBD;
        Map<String, org.peft4j.core.io.HostTensor> weights = org.peft4j.testkit.TinyGpt2.weights(9);
        Path model = org.peft4j.testkit.TinyGpt2.write(root.resolve("gpt2"), weights);
        Map<String, float[]> tensors = new LinkedHashMap<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        Map<String, org.peft4j.core.io.HostTensor> merged = new LinkedHashMap<>(weights);
        for (int layer = 0; layer < 2; layer++) {
            String path = "base_model.model.transformer.h." + layer + ".attn.c_attn";
            float[] a = Reference.randoms(R * embd, 20 + layer);
            float[] b = Reference.randoms(3 * embd * R, 30 + layer);
            tensors.put(path + ".lora_A.weight", a);
            tensors.put(path + ".lora_B.weight", b);
            shapes.put(path + ".lora_A.weight", new long[] {R, embd});
            shapes.put(path + ".lora_B.weight", new long[] {3 * embd, R});
            String conv = "h." + layer + ".attn.c_attn.weight";
            float[] w = merged.get(conv).data().clone();
            for (int i = 0; i < embd; i++) {
                for (int o = 0; o < 3 * embd; o++) {
                    float delta = 0;
                    for (int k = 0; k < R; k++) {
                        delta += b[o * R + k] * a[k * embd + i];
                    }
                    w[i * 3 * embd + o] += ALPHA / R * delta;
                }
            }
            merged.put(conv, new org.peft4j.core.io.HostTensor(new long[] {embd, 3 * embd}, w));
        }
        Path dir = root.resolve("gpt2-adapter");
        Files.createDirectories(dir);
        Files.write(dir.resolve("adapter_model.safetensors"), safetensors(tensors, shapes));
        Files.writeString(dir.resolve("adapter_config.json"), CONFIG.replace("\"fan_in_fan_out\": false", "\"fan_in_fan_out\": true")
                .replace("[\"fc1\"]", "[\"c_attn\"]").replace("\"task_type\": null", "\"task_type\": \"CAUSAL_LM\""));

        long[] ids = {1, 7, 23, 5, 60, 12, 3};
        float[] expected = new org.peft4j.testkit.Gpt2Reference(merged, embd, org.peft4j.testkit.TinyGpt2.HEADS, 2).logits(ids);
        for (String name : new String[] {"djl", "nd4j"}) {
            try (Backend be = Peft.backend(name); Scope s = be.scope()) {
                org.peft4j.models.decoder.CausalLM lm = org.peft4j.models.PretrainedDecoder.load(be, model);
                lm.setTraining(false);
                PeftModel peft = new PeftModel(lm, Peft.registry(), 1);
                peft.loadAdapter("default", dir);
                assertThat(((LoraConfig) peft.config("default")).fanInFanOut()).isTrue();
                float[] unmerged = lm.forward(be.fromLongs(ids, 1, ids.length), null, null).toFloatArray();
                assertThat(Reference.maxAbsDiff(unmerged, expected)).as(name).isLessThan(1e-4f);
                peft.merge("default");
                float[] afterMerge = lm.forward(be.fromLongs(ids, 1, ids.length), null, null).toFloatArray();
                assertThat(Reference.maxAbsDiff(afterMerge, expected)).as(name + " merged").isLessThan(1e-4f);
            }
        }
    }
}
