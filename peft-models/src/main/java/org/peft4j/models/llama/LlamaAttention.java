package org.peft4j.models.llama;

import java.util.List;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.InsertionPoint;
import org.peft4j.api.nn.KeyValuePrefix;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.models.PrefixableAttention;
import org.peft4j.models.WeightMap;
import org.peft4j.models.decoder.CausalAttention;
import org.peft4j.models.decoder.KvCache;

/**
 * Causal grouped-query self-attention with rotary position embeddings, HF's module names
 * {@code q_proj}, {@code k_proj}, {@code v_proj}, {@code o_proj} (no biases), and the
 * {@link InsertionPoint} {@code adapter} that the layer applies to this sub-layer's output. Accepts a
 * {@link KeyValuePrefix}: prefix keys and values come before the cached and new ones and are
 * visible to every position.
 */
public final class LlamaAttention extends PrefixableAttention {
    private final LlamaConfig config;

    LlamaAttention(WeightMap w, LlamaConfig c, String path, int layerIndex) {
        // prefixes are given per key/value head
        super(w.backend(), layerIndex, c.numKeyValueHeads(), c.headDim());
        this.config = c;
        long h = c.hiddenSize();
        long kv = (long) c.numKeyValueHeads() * c.headDim();
        register("q_proj", linear(w, path + ".q_proj", h, h));
        register("k_proj", linear(w, path + ".k_proj", h, kv));
        register("v_proj", linear(w, path + ".v_proj", h, kv));
        register("o_proj", linear(w, path + ".o_proj", h, h));
        register("adapter", new InsertionPoint(w.backend(), h, h));
    }

    static Linear linear(WeightMap w, String path, long in, long out) {
        return new Linear(w.backend(), w.take(path + ".weight", out, in), null);
    }






    /**
     * @param x hidden states (batch, seq, hidden)
     * @param rope cos and sin tables for the new positions, each (seq, head width)
     * @param mask additive mask (batch, 1, seq, prefix + past + seq)
     * @param cache keys and values of earlier positions, or null
     */
    Tensor forward(Tensor x, Tensor[] rope, Tensor mask, KvCache cache) {
        long d = config.headDim();
        Tensor q = rotate(splitHeads(child("q_proj", LinearLayer.class).forward(x), config.numAttentionHeads(), d), rope);
        Tensor k = rotate(splitHeads(child("k_proj", LinearLayer.class).forward(x), config.numKeyValueHeads(), d), rope);
        Tensor v = splitHeads(child("v_proj", LinearLayer.class).forward(x), config.numKeyValueHeads(), d);
        Tensor context = CausalAttention.attend(q, k, v, layerIndex(), cache, prefix(), mask, (float) (1.0 / Math.sqrt(d)),
                0f, false);
        return child("o_proj", LinearLayer.class).forward(context);
    }

    /** HF's rotate_half convention: x * cos + concat(-x2, x1) * sin. */
    static Tensor rotate(Tensor x, Tensor[] rope) {
        long d = x.size(-1);
        Tensor x1 = x.slice(3, 0, d / 2);
        Tensor x2 = x.slice(3, d / 2, d);
        Tensor rotated = x.backend().concat(List.of(x2.neg(), x1), 3);
        return x.mul(rope[0]).add(rotated.mul(rope[1]));
    }
}
