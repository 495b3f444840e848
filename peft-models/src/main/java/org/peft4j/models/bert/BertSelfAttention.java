package org.peft4j.models.bert;

import java.util.List;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Functional;
import org.peft4j.api.nn.KeyValuePrefix;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.models.PrefixableAttention;
import org.peft4j.models.WeightMap;

/**
 * Multi-head self-attention with {@code query}, {@code key} and {@code value} linear layers.
 * Accepts a {@link KeyValuePrefix} (prefix tuning): its keys and values come before the
 * sequence's own and are always visible.
 */
public final class BertSelfAttention extends PrefixableAttention {
    private final float dropout;

    BertSelfAttention(WeightMap w, BertConfig c, String path, int layerIndex) {
        super(w.backend(), layerIndex, c.numAttentionHeads(), c.hiddenSize() / c.numAttentionHeads());
        this.dropout = (float) c.attentionProbsDropoutProb();
        for (String n : List.of("query", "key", "value")) {
            register(n, BertLayer.linear(w, path + "." + n, c.hiddenSize(), c.hiddenSize()));
        }
    }






    /**
     * @param h hidden states (batch, seq, hidden)
     * @param keyMask 1 for real tokens, 0 for padding: (batch, seq), float; or, for a packed batch,
     *     which keys each query sees: (batch, seq, seq)
     * @return context (batch, seq, hidden)
     */
    public Tensor forward(Tensor h, Tensor keyMask) {
        long batch = h.size(0);
        long seq = h.size(1);
        Tensor q = splitHeads(child("query", LinearLayer.class).forward(h), heads(), headDim());
        Tensor k = splitHeads(child("key", LinearLayer.class).forward(h), heads(), headDim());
        Tensor v = splitHeads(child("value", LinearLayer.class).forward(h), heads(), headDim());
        Tensor mask = keyMask;
        KeyValuePrefix prefix = prefix();
        boolean perQuery = keyMask.rank() == 3;
        if (prefix != null && perQuery) {
            throw new PeftException("prefix tuning's virtual keys cannot join a packed batch (a per-query mask)");
        }
        if (prefix != null) {
            Tensor[] kv = prefix.keysAndValues(layerIndex(), batch);
            k = backend().concat(List.of(kv[0], k), 2);
            v = backend().concat(List.of(kv[1], v), 2);
            mask = backend().concat(List.of(backend().full(1f, batch, prefix.length()), keyMask), 1);
        }
        // (m - 1) * 1e9: 0 where visible, -1e9 where padded
        Tensor additive = mask.sub(1f).mul(1e9f).reshape(batch, 1, perQuery ? seq : 1, mask.size(-1));
        Tensor scores = q.matmul(k.transposeLast2()).mul((float) (1.0 / Math.sqrt(headDim()))).add(additive);
        Tensor probs = Functional.dropout(scores.softmax(-1), dropout, isTraining());
        return probs.matmul(v).permute(0, 2, 1, 3).reshape(batch, seq, heads() * headDim());
    }
}
