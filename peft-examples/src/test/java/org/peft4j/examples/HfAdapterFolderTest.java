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
import org.peft4j.api.Peft;
import org.peft4j.api.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.io.AdapterFiles;
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
}
