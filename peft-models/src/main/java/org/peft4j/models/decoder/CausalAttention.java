package org.peft4j.models.decoder;

import java.util.List;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Functional;
import org.peft4j.api.nn.KeyValuePrefix;

/** The part of causal self-attention after the projections, shared by the decoder architectures. */
public final class CausalAttention {
    private CausalAttention() {
    }

    /**
     * Appends the new keys and values to the cache, puts the layer's learned prefix in front,
     * and attends.
     *
     * @param q queries (batch, heads, seq, d), position encoding applied
     * @param k new keys (batch, kv heads, seq, d), position encoding applied
     * @param v new values (batch, kv heads, seq, d)
     * @param layer the layer's index (cache slot and prefix row)
     * @param cache earlier keys and values, or null
     * @param prefix learned key/value prefix per kv head, or null
     * @param mask additive mask from {@link DecoderInput}
     * @param scale multiplies the raw scores
     * @param dropout probability on the attention weights while training
     * @param training whether the model is training
     * @return context (batch, seq, heads * d)
     */
    public static Tensor attend(Tensor q, Tensor k, Tensor v, int layer, KvCache cache, KeyValuePrefix prefix,
            Tensor mask, float scale, float dropout, boolean training) {
        if (cache != null) {
            Tensor[] full = cache.append(layer, k, v);
            k = full[0];
            v = full[1];
        }
        if (prefix != null) {
            Tensor[] kv = prefix.keysAndValues(layer, q.size(0));
            k = q.backend().concat(List.of(kv[0], k), 2);
            v = q.backend().concat(List.of(kv[1], v), 2);
        }
        int groups = (int) (q.size(1) / k.size(1));
        k = repeatHeads(k, groups);
        v = repeatHeads(v, groups);
        // scaling the queries touches seq * d values per head, the scores seq * keys
        Tensor scores = q.mul(scale).matmul(k.transposeLast2()).add(mask);
        long[] s = q.shape();
        return Functional.dropout(scores.softmax(-1), dropout, training).matmul(v).permute(0, 2, 1, 3).reshape(s[0], s[2], s[1] * s[3]);
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
