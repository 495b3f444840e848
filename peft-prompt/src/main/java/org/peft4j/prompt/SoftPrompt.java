package org.peft4j.prompt;

import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Embedding;
import org.peft4j.api.nn.Module;
import org.peft4j.api.nn.PromptPrefix;

/**
 * The learned virtual tokens of one prompt-learning adapter: an {@code embedding} table of
 * (virtual tokens, width), turned into the prompt by {@link #prompt()}. A prompt loaded from a file
 * (HF saves the final embeddings, not the encoder) is used as it is.
 */
abstract class SoftPrompt extends Module implements PromptPrefix {
    private Parameter loaded;

    SoftPrompt(Backend backend, Tensor table) {
        super(backend);
        register("embedding", new Embedding(backend, table));
    }

    Embedding embedding() {
        return child("embedding", Embedding.class);
    }

    /** The virtual token embeddings, (virtual tokens, width), computed from the trained parameters. */
    abstract Tensor compute();

    /** The prompt in use: the loaded one, else {@link #compute()}. */
    Tensor prompt() {
        return loaded != null ? loaded.value() : compute();
    }

    /** Uses {@code values} as the prompt from now on (an adapter file's {@code prompt_embeddings}). */
    void load(Tensor values) {
        if (loaded == null) {
            loaded = new Parameter(values);
            loaded.setTrainable(false);
        } else {
            loaded.set(values);
        }
    }

    @Override
    public long length() {
        return embedding().rows();
    }

    @Override
    public Tensor embeddings(long batch) {
        Tensor p = prompt();
        return backend().zeros(batch, 1, 1).add(p.reshape(1, p.size(0), p.size(1)));
    }
}
