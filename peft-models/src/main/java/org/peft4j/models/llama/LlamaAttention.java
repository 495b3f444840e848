package org.peft4j.models.llama;

import java.util.List;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.KeyValuePrefix;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;
import org.peft4j.models.WeightMap;

/**
 * Causal grouped-query self-attention with rotary position embeddings, HF's module names
 * {@code q_proj}, {@code k_proj}, {@code v_proj}, {@code o_proj} (no biases). Accepts a
 * {@link KeyValuePrefix}: prefix keys and values come before the cached and new ones and are
 * visible to every position.
 */
public final class LlamaAttention extends Module implements KeyValuePrefix.Attention {
    private final LlamaConfig config;
    private final int layerIndex;
    private KeyValuePrefix prefix;

    LlamaAttention(WeightMap w, LlamaConfig c, String path, int layerIndex) {
        super(w.backend());
        this.config = c;
        this.layerIndex = layerIndex;
        long h = c.hiddenSize();
        long kv = (long) c.numKeyValueHeads() * c.headDim();
        register("q_proj", linear(w, path + ".q_proj", h, h));
        register("k_proj", linear(w, path + ".k_proj", h, kv));
        register("v_proj", linear(w, path + ".v_proj", h, kv));
        register("o_proj", linear(w, path + ".o_proj", h, h));
    }

    static Linear linear(WeightMap w, String path, long in, long out) {
        return new Linear(w.backend(), w.take(path + ".weight", out, in), null);
    }

    @Override
    public void setPrefix(KeyValuePrefix prefix) {
        this.prefix = prefix;
    }

    @Override
    public KeyValuePrefix prefix() {
        return prefix;
    }

    @Override
    public int layerIndex() {
        return layerIndex;
    }

    /** Prefixes are given per key/value head. */
    @Override
    public int heads() {
        return config.numKeyValueHeads();
    }

    @Override
    public long headDim() {
        return config.headDim();
    }

    /**
     * @param x hidden states (batch, seq, hidden)
     * @param rope cos and sin tables for the new positions, each (seq, head width)
     * @param mask additive mask (batch, 1, seq, prefix + past + seq)
     * @param cache keys and values of earlier positions, or null
     */
    Tensor forward(Tensor x, Tensor[] rope, Tensor mask, KvCache cache) {
        Backend b = backend();
        long batch = x.size(0);
        long seq = x.size(1);
        int heads = config.numAttentionHeads();
        int kvHeads = config.numKeyValueHeads();
        long d = config.headDim();
        Tensor q = rotate(split(child("q_proj", LinearLayer.class).forward(x), batch, seq, heads, d), rope);
        Tensor k = rotate(split(child("k_proj", LinearLayer.class).forward(x), batch, seq, kvHeads, d), rope);
        Tensor v = split(child("v_proj", LinearLayer.class).forward(x), batch, seq, kvHeads, d);
        if (cache != null) {
            Tensor[] full = cache.append(layerIndex, k, v);
            k = full[0];
            v = full[1];
        }
        if (prefix != null) {
            Tensor[] kv = prefix.keysAndValues(layerIndex, batch);
            k = b.concat(List.of(kv[0], k), 2);
            v = b.concat(List.of(kv[1], v), 2);
        }
        k = repeatHeads(k, heads / kvHeads);
        v = repeatHeads(v, heads / kvHeads);
        Tensor scores = q.matmul(k.transposeLast2()).mul((float) (1.0 / Math.sqrt(d))).add(mask);
        Tensor context = scores.softmax(-1).matmul(v).permute(0, 2, 1, 3).reshape(batch, seq, heads * d);
        return child("o_proj", LinearLayer.class).forward(context);
    }

    private static Tensor split(Tensor x, long batch, long seq, int heads, long d) {
        return x.reshape(batch, seq, heads, d).permute(0, 2, 1, 3);
    }

    /** HF's rotate_half convention: x * cos + concat(-x2, x1) * sin. */
    static Tensor rotate(Tensor x, Tensor[] rope) {
        long d = x.size(-1);
        Tensor x1 = x.slice(3, 0, d / 2);
        Tensor x2 = x.slice(3, d / 2, d);
        Tensor rotated = x.backend().concat(List.of(x2.neg(), x1), 3);
        return x.mul(rope[0]).add(rotated.mul(rope[1]));
    }

    /** (batch, kv heads, len, d) to (batch, kv heads * groups, len, d), each kv head serving {@code groups} query heads. */
    private static Tensor repeatHeads(Tensor x, int groups) {
        if (groups == 1) {
            return x;
        }
        long[] s = x.shape();
        Tensor expanded = x.reshape(s[0], s[1], 1, s[2], s[3]).add(x.backend().zeros(1, 1, groups, 1, 1));
        return expanded.reshape(s[0], s[1] * groups, s[2], s[3]);
    }
}
