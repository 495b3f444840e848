package org.peft4j.api.nn;

import org.peft4j.api.backend.Tensor;

/**
 * Extra keys and values an attention layer prepends to its own (prefix tuning). Attention layers
 * that accept prefixes implement {@link Attention}; the attention mask is extended by
 * {@link #length()} always-visible positions.
 */
public interface KeyValuePrefix {

    /** Number of prefix positions. */
    long length();

    /**
     * Keys and values for one layer, each (batch, heads, length, head_dim).
     *
     * @param layer index of the transformer layer
     * @param batch batch size to broadcast to
     */
    Tensor[] keysAndValues(int layer, long batch);

    /** Attention layers that accept a {@link KeyValuePrefix}. */
    interface Attention {
        /** Sets or clears (with null) the prefix used by later forward passes. */
        void setPrefix(KeyValuePrefix prefix);

        /** The prefix in use, or null. */
        KeyValuePrefix prefix();

        /** Index of this layer in the model, from 0, as passed to {@link KeyValuePrefix#keysAndValues}. */
        int layerIndex();

        /** Attention heads whose keys and values a prefix supplies. */
        int heads();

        /** Width of one head. */
        long headDim();
    }
}
