package org.peft4j.prompt;

import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Embedding;
import org.peft4j.api.nn.PromptPrefix;
import org.peft4j.core.tuner.VirtualTokens;

/**
 * The learned virtual tokens of one prompt-tuning or P-tuning adapter: an {@code embedding} table
 * of (virtual tokens, width), turned into the prompt by {@link #compute()}, prepended to the
 * model's input embeddings.
 */
abstract class SoftPrompt extends VirtualTokens implements PromptPrefix {

    SoftPrompt(Backend backend, Tensor table) {
        super(backend);
        register("embedding", new Embedding(backend, table));
    }

    Embedding embedding() {
        return child("embedding", Embedding.class);
    }

    @Override
    public long length() {
        return embedding().rows();
    }

    @Override
    public Tensor embeddings(long batch) {
        Tensor p = table();
        return backend().zeros(batch, 1, 1).add(p.reshape(1, p.size(0), p.size(1)));
    }
}
