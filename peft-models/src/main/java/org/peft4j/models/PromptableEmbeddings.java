package org.peft4j.models;

import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Embedding;
import org.peft4j.api.nn.Module;
import org.peft4j.api.nn.PromptPrefix;

/**
 * What every module that embeds a model's input tokens shares as a {@link PromptPrefix.Embeddings}:
 * the soft prompt set on it (none at first) and the word embeddings, a child under an HF name.
 */
public abstract class PromptableEmbeddings extends Module implements PromptPrefix.Embeddings {
    private final String wordEmbeddings;
    private PromptPrefix prompt;

    /** @param wordEmbeddings the HF name of the child holding the word embeddings */
    protected PromptableEmbeddings(Backend backend, String wordEmbeddings) {
        super(backend);
        this.wordEmbeddings = wordEmbeddings;
    }

    @Override
    public final void setPrompt(PromptPrefix prompt) {
        this.prompt = prompt;
    }

    @Override
    public final PromptPrefix prompt() {
        return prompt;
    }

    /** The word embeddings (a tied output head reads them). */
    public final Embedding tokenEmbeddings() {
        return child(wordEmbeddings, Embedding.class);
    }

    @Override
    public final Tensor embedTokens(Tensor ids) {
        return tokenEmbeddings().forward(ids);
    }
}
