package org.peft4j.prompt;

import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;

/** Prompt tuning's prompt: the embedding table itself (HF's {@code PromptEmbedding}). */
final class PromptEmbedding extends SoftPrompt {
    PromptEmbedding(Backend backend, Tensor table) {
        super(backend, table);
    }

    @Override
    protected Tensor compute() {
        return embedding().weight().value();
    }

    /** A loaded prompt is the table: set it, so the adapter stays trainable. */
    @Override
    public void load(Tensor values) {
        embedding().weight().set(values);
    }
}
