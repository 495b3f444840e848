package org.peft4j.models;

import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.KeyValuePrefix;
import org.peft4j.api.nn.Module;

/**
 * What every attention module of the models shares as a {@link KeyValuePrefix.Attention}: its
 * layer index, the head layout prefixes are given in, and the prefix set on it (none at first).
 */
public abstract class PrefixableAttention extends Module implements KeyValuePrefix.Attention {
    private final int layerIndex;
    private final int heads;
    private final long headDim;
    private KeyValuePrefix prefix;

    /**
     * @param heads the heads a prefix gives keys and values for (key/value heads under grouped-query attention)
     * @param headDim width of one head
     */
    protected PrefixableAttention(Backend backend, int layerIndex, int heads, long headDim) {
        super(backend);
        this.layerIndex = layerIndex;
        this.heads = heads;
        this.headDim = headDim;
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

    @Override
    public int heads() {
        return heads;
    }

    @Override
    public long headDim() {
        return headDim;
    }

    /** (batch, seq, heads * d) to (batch, heads, seq, d). */
    protected static Tensor splitHeads(Tensor x, long heads, long d) {
        return x.reshape(x.size(0), x.size(1), heads, d).permute(0, 2, 1, 3);
    }
}
