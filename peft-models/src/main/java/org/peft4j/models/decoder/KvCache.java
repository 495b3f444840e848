package org.peft4j.models.decoder;

import java.util.ArrayList;
import java.util.List;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;

/**
 * Keys and values of the positions decoded so far, per layer, (batch, kv heads, length, head
 * width), rotary already applied; held outside any scope until {@link #close}.
 */
public final class KvCache implements AutoCloseable {
    private final Backend backend;
    private final List<Tensor[]> layers = new ArrayList<>();
    private long length;
    private long[] keyMask = new long[0];

    public KvCache(Backend backend, int numLayers) {
        this.backend = backend;
        for (int i = 0; i < numLayers; i++) {
            layers.add(new Tensor[2]);
        }
    }

    /** Positions cached. */
    public long length() {
        return length;
    }


    /** Layer {@code layer}'s cached keys and values (batch, kv heads, length, head width); nulls when empty. */
    public Tensor[] layer(int layer) {
        return layers.get(layer).clone();
    }

    /** Appends a layer's new keys and values; returns the full ones. */
    public Tensor[] append(int layer, Tensor k, Tensor v) {
        Tensor[] kv = layers.get(layer);
        Tensor[] full = kv[0] == null ? new Tensor[] {k, v}
                : new Tensor[] {backend.concat(List.of(kv[0], k), 2), backend.concat(List.of(kv[1], v), 2)};
        release(kv);
        kv[0] = backend.keep(full[0]);
        kv[1] = backend.keep(full[1]);
        return kv.clone();
    }

    /**
     * Appends the new positions' attention mask (batch, seq) to the cached one; returns the mask
     * over every cached and new position, (batch, length + seq).
     */
    public long[] appendMask(long[] mask, long batch) {
        long seq = mask.length / batch;
        long[] out = new long[(int) (batch * (length + seq))];
        for (int r = 0; r < batch; r++) {
            System.arraycopy(keyMask, (int) (r * length), out, (int) (r * (length + seq)), (int) length);
            System.arraycopy(mask, (int) (r * seq), out, (int) (r * (length + seq) + length), (int) seq);
        }
        keyMask = out;
        return out.clone();
    }

    /** Called once per forward pass, after every layer appended {@code added} positions. */
    public void advance(long added) {
        length += added;
    }

    private void release(Tensor[] kv) {
        for (int i = 0; i < 2; i++) {
            if (kv[i] != null) {
                backend.release(kv[i]);
                kv[i] = null;
            }
        }
    }

    @Override
    public void close() {
        layers.forEach(this::release);
        length = 0;
        keyMask = new long[0];
    }
}
