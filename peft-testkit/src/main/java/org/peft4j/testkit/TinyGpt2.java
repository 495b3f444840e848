package org.peft4j.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.peft4j.core.io.HostTensor;

/**
 * Test support: a tiny random GPT-2 (vocab 64, n_embd 32, 2 blocks, 4 heads, 16 positions,
 * feed-forward 128) written as an HF folder, weights in the checkpoint's Conv1D layout (in, out)
 * and named as the original GPT-2 checkpoints are (no {@code transformer.} prefix, with the
 * {@code attn.bias} mask buffers).
 */
public final class TinyGpt2 {
    public static final int VOCAB = 64;
    public static final int EMBD = 32;
    public static final int INNER = 128;
    public static final int LAYERS = 2;
    public static final int HEADS = 4;
    public static final int POSITIONS = 16;
    public static final String CONFIG = """
            {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 64, "n_positions": 16,
             "n_embd": 32, "n_layer": 2, "n_head": 4, "n_inner": null, "activation_function": "gelu_new",
             "layer_norm_epsilon": 1e-5, "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1,
             "bos_token_id": 0, "eos_token_id": 0}
            """;

    private TinyGpt2() {
    }

    /** The weights by checkpoint name, seeded. */
    public static Map<String, HostTensor> weights(long seed) {
        Random r = new Random(seed);
        Map<String, HostTensor> w = new LinkedHashMap<>();
        put(w, r, "wte.weight", 0f, 0.3f, VOCAB, EMBD);
        put(w, r, "wpe.weight", 0f, 0.1f, POSITIONS, EMBD);
        for (int l = 0; l < LAYERS; l++) {
            String p = "h." + l;
            put(w, r, p + ".ln_1.weight", 1f, 0.1f, EMBD);
            put(w, r, p + ".ln_1.bias", 0f, 0.1f, EMBD);
            put(w, r, p + ".attn.c_attn.weight", 0f, 0.2f, EMBD, 3 * EMBD);
            put(w, r, p + ".attn.c_attn.bias", 0f, 0.1f, 3 * EMBD);
            put(w, r, p + ".attn.c_proj.weight", 0f, 0.2f, EMBD, EMBD);
            put(w, r, p + ".attn.c_proj.bias", 0f, 0.1f, EMBD);
            put(w, r, p + ".ln_2.weight", 1f, 0.1f, EMBD);
            put(w, r, p + ".ln_2.bias", 0f, 0.1f, EMBD);
            put(w, r, p + ".mlp.c_fc.weight", 0f, 0.2f, EMBD, INNER);
            put(w, r, p + ".mlp.c_fc.bias", 0f, 0.1f, INNER);
            put(w, r, p + ".mlp.c_proj.weight", 0f, 0.1f, INNER, EMBD);
            put(w, r, p + ".mlp.c_proj.bias", 0f, 0.1f, EMBD);
            float[] causal = new float[POSITIONS * POSITIONS];
            for (int i = 0; i < POSITIONS; i++) {
                for (int j = 0; j <= i; j++) {
                    causal[i * POSITIONS + j] = 1f;
                }
            }
            w.put(p + ".attn.bias", new HostTensor(new long[] {1, 1, POSITIONS, POSITIONS}, causal));
        }
        put(w, r, "ln_f.weight", 1f, 0.1f, EMBD);
        put(w, r, "ln_f.bias", 0f, 0.1f, EMBD);
        return w;
    }

    /** The words of {@link #writeTokenizer}'s vocabulary after {@code <|endoftext|>} (id 0), ids 1 to 63. */
    public static final String[] WORDS = ("the a an film movie story plot acting actor actress scene scenes music "
            + "is was are were be it this that and but or not very so too quite rather good bad great awful "
            + "fine dull funny boring moving sweet smart silly long short slow fast best worst love hate like "
            + "liked loved hated enjoyed i you we they one two of in").split(" ");

    /**
     * Writes a word-level {@code tokenizer.json} (whitespace pre-tokenizer) over {@link #WORDS}, the
     * 64 ids of the tiny model; unknown words map to id 0.
     */
    public static void writeTokenizer(Path dir) {
        StringBuilder vocab = new StringBuilder("\"<|endoftext|>\": 0");
        for (int i = 0; i < WORDS.length; i++) {
            vocab.append(", \"").append(WORDS[i]).append("\": ").append(i + 1);
        }
        String json = "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null, \"added_tokens\": [],"
                + " \"normalizer\": null, \"pre_tokenizer\": {\"type\": \"Whitespace\"}, \"post_processor\": null,"
                + " \"decoder\": null, \"model\": {\"type\": \"WordLevel\", \"vocab\": {" + vocab
                + "}, \"unk_token\": \"<|endoftext|>\"}}";
        try {
            Files.writeString(dir.resolve("tokenizer.json"), json);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes config.json and model.safetensors into {@code dir}; returns it. */
    public static Path write(Path dir, Map<String, HostTensor> weights) {
        return HfFolders.write(dir, CONFIG, weights);
    }

    private static void put(Map<String, HostTensor> w, Random r, String name, float mean, float std, int... shape) {
        int n = 1;
        long[] s = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            n *= shape[i];
            s[i] = shape[i];
        }
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = mean + (float) (r.nextGaussian() * std);
        }
        w.put(name, new HostTensor(s, v));
    }
}
