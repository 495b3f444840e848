package org.peft4j.prompt;

import org.peft4j.api.PeftApi;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.nn.Module;
import org.peft4j.api.nn.PromptPrefix;
import org.peft4j.api.tuner.TunerContext;
import org.peft4j.core.tuner.PromptKeys;
import org.peft4j.core.tuner.PromptLearningTuner;

/**
 * What prompt tuning and P-tuning share: a {@link SoftPrompt} per adapter, handed to the model's
 * {@link PromptPrefix.Embeddings}; saved as HF does, as one tensor of (virtual tokens, width).
 */
abstract class SoftPromptTuner<C extends PeftConfig> extends PromptLearningTuner<C, SoftPrompt> {

    SoftPromptTuner(String peftType, Class<C> configClass) {
        super(PeftApi.VERSION, peftType, configClass, SoftPrompt.class);
    }

    /** Builds the adapter's prompt for embeddings of width {@code dim}. */
    abstract SoftPrompt create(C config, long dim, PromptPrefix.Embeddings embeddings, TunerContext context);

    /** The config's {@code token_dim}, or null. */
    abstract Integer tokenDim(C config);

    private static PromptPrefix.Embeddings embeddings(Module model) {
        var found = all(model, PromptPrefix.Embeddings.class);
        if (found.size() != 1) {
            throw new PeftException("prompt learning needs exactly one input-embedding layer that accepts a prompt ("
                    + PromptPrefix.Embeddings.class.getName() + "), found " + found.size());
        }
        return found.get(0);
    }

    /** The model's embedding width, checked against the config's {@code token_dim}. */
    private long width(Module model, C config) {
        long dim;
        try (Scope ignored = model.backend().scope()) {
            dim = embeddings(model).embedTokens(model.backend().fromLongs(new long[] {0}, 1)).size(-1);
        }
        checkSize("token_dim", tokenDim(config), dim);
        return dim;
    }

    @Override
    protected final SoftPrompt create(Module model, C config, TunerContext context) {
        return create(config, width(model, config), embeddings(model), context);
    }

    @Override
    protected final long[] tableShape(Module model, C config) {
        return new long[] {prompt(config).numVirtualTokens(), width(model, config)};
    }

    /** The config's prompt keys. */
    abstract PromptKeys prompt(C config);

    @Override
    public String sizeKeys(C config) {
        return "num_virtual_tokens=" + prompt(config).numVirtualTokens();
    }

    @Override
    protected final SoftPrompt attached(Module model) {
        return embeddings(model).prompt() instanceof SoftPrompt p ? p : null;
    }

    @Override
    protected final void attach(Module model, SoftPrompt prompt) {
        embeddings(model).setPrompt(prompt);
    }
}
