package org.peft4j.api.nn;

import org.peft4j.api.backend.Tensor;

/**
 * Virtual token embeddings prepended to a model's input embeddings (prompt tuning, P-tuning).
 * Embedding layers that accept them implement {@link Embeddings}; the attention mask is extended
 * by {@link #length()} visible positions.
 */
public interface PromptPrefix {

    /** Number of virtual tokens. */
    long length();

    /** The virtual token embeddings for a batch: (batch, length, hidden). */
    Tensor embeddings(long batch);

    /** Input-embedding layers that accept a {@link PromptPrefix}. */
    interface Embeddings {
        /** Sets or clears (with null) the prompt used by later forward passes. */
        void setPrompt(PromptPrefix prompt);

        /** The prompt in use, or null. */
        PromptPrefix prompt();

        /** Embeds token ids with the model's own word embeddings: (..., hidden). */
        Tensor embedTokens(Tensor ids);
    }
}
