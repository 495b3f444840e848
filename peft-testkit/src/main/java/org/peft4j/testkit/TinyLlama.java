package org.peft4j.testkit;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.peft4j.core.io.HostTensor;

/** Test support: writes a tiny random LLaMA (vocab 64, width 32, 2 layers, 4 heads, 2 kv heads) as an HF folder. */
public final class TinyLlama {
    public static final int VOCAB = 64;
    public static final int HIDDEN = 32;
    public static final int INTER = 64;
    public static final int LAYERS = 2;
    public static final String CONFIG = """
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 64, "hidden_size": 32,
             "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
             "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
             "tie_word_embeddings": false, "hidden_act": "silu"}
            """;

    private TinyLlama() {
    }

    /** The weights by HF name, seeded. */
    public static Map<String, HostTensor> weights(long seed) {
        Random r = new Random(seed);
        Map<String, HostTensor> w = new LinkedHashMap<>();
        put(w, r, "model.embed_tokens.weight", VOCAB, HIDDEN);
        for (int l = 0; l < LAYERS; l++) {
            String p = "model.layers." + l;
            ones(w, p + ".input_layernorm.weight", HIDDEN);
            ones(w, p + ".post_attention_layernorm.weight", HIDDEN);
            put(w, r, p + ".self_attn.q_proj.weight", HIDDEN, HIDDEN);
            put(w, r, p + ".self_attn.k_proj.weight", HIDDEN / 2, HIDDEN);
            put(w, r, p + ".self_attn.v_proj.weight", HIDDEN / 2, HIDDEN);
            put(w, r, p + ".self_attn.o_proj.weight", HIDDEN, HIDDEN);
            put(w, r, p + ".mlp.gate_proj.weight", INTER, HIDDEN);
            put(w, r, p + ".mlp.up_proj.weight", INTER, HIDDEN);
            put(w, r, p + ".mlp.down_proj.weight", HIDDEN, INTER);
        }
        ones(w, "model.norm.weight", HIDDEN);
        put(w, r, "lm_head.weight", VOCAB, HIDDEN);
        return w;
    }

    /** Writes config.json and model.safetensors into {@code dir}; returns it. */
    public static Path write(Path dir, Map<String, HostTensor> weights) {
        return HfFolders.write(dir, CONFIG, weights);
    }

    private static void put(Map<String, HostTensor> w, Random r, String name, int rows, int cols) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (r.nextGaussian() * 0.2);
        }
        w.put(name, new HostTensor(new long[] {rows, cols}, v));
    }

    private static void ones(Map<String, HostTensor> w, String name, int n) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, 1f);
        w.put(name, new HostTensor(new long[] {n}, v));
    }
}
