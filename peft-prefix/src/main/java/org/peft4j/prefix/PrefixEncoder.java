package org.peft4j.prefix;

import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Embedding;
import org.peft4j.api.nn.Init;
import org.peft4j.api.nn.KeyValuePrefix;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.ModuleDict;
import org.peft4j.core.tuner.VirtualTokens;

/**
 * Prefix tuning's keys and values (HF's {@code PrefixEncoder}): an {@code embedding} of
 * (virtual tokens, layers * 2 * width), or of (virtual tokens, width) passed through
 * {@code transform} (Linear, tanh, Linear) with {@code prefix_projection}. Row {@code t} holds,
 * for each layer, its key then its value, each split into heads, as HF lays out past_key_values.
 */
final class PrefixEncoder extends VirtualTokens implements KeyValuePrefix {
    private final int layers;
    private final int heads;
    private final long headDim;
    private final boolean projection;

    PrefixEncoder(Backend backend, int n, int layers, int heads, long headDim, boolean projection, long hidden, Init init) {
        super(backend);
        this.layers = layers;
        this.heads = heads;
        this.headDim = headDim;
        this.projection = projection;
        long width = heads * headDim;
        long out = layers * 2L * width;
        register("embedding", new Embedding(backend, init.normal(backend, 0f, 1f, n, projection ? width : out)));
        if (projection) {
            ModuleDict transform = new ModuleDict(backend);
            transform.put("0", Linear.init(backend, width, hidden, true, init));
            transform.put("2", Linear.init(backend, hidden, out, true, init));
            register("transform", transform);
        }
    }

    /** The prefixes of every layer, (virtual tokens, layers * 2 * width): what HF saves. */
    @Override
    protected Tensor compute() {
        Tensor x = child("embedding", Embedding.class).weight().value();
        if (projection) {
            ModuleDict t = child("transform", ModuleDict.class);
            x = t.child("2", Linear.class).forward(t.child("0", Linear.class).forward(x).tanh());
        }
        return x;
    }

    @Override
    public long length() {
        return child("embedding", Embedding.class).rows();
    }

    @Override
    public Tensor[] keysAndValues(int layer, long batch) {
        if (layer < 0 || layer >= layers) {
            throw new org.peft4j.api.PeftException("prefix has " + layers + " layers, layer " + layer + " asked");
        }
        long n = length();
        // (n, layers * 2, heads, headDim): entry 2l is layer l's key, 2l + 1 its value
        Tensor all = table().reshape(n, layers * 2L, heads, headDim);
        Tensor[] kv = new Tensor[2];
        for (int i = 0; i < 2; i++) {
            Tensor one = all.slice(1, 2L * layer + i, 2L * layer + i + 1).reshape(n, heads, headDim).permute(1, 0, 2);
            kv[i] = backend().zeros(batch, 1, 1, 1).add(one.reshape(1, heads, n, headDim));
        }
        return kv;
    }
}
