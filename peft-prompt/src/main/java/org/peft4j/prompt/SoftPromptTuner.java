package org.peft4j.prompt;

import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.nn.Module;
import org.peft4j.api.nn.PromptPrefix;
import org.peft4j.core.tuner.PromptLearning;
import org.peft4j.api.tuner.Tuner;
import org.peft4j.api.tuner.TunerContext;

/**
 * What prompt tuning and P-tuning share: a {@link SoftPrompt} per adapter under
 * {@code prompt_encoder.<adapter>}, handed to the model's {@link PromptPrefix.Embeddings}; saved as
 * HF does, as one tensor {@value #SAVED} of (virtual tokens, width).
 */
abstract class SoftPromptTuner implements Tuner {
    /** HF's name of the saved prompt. */
    static final String SAVED = "prompt_embeddings";

    /** Builds the adapter's prompt for embeddings of width {@code dim}. */
    abstract SoftPrompt create(PeftConfig config, long dim, PromptPrefix.Embeddings embeddings, TunerContext context);

    @Override
    public boolean isPromptLearning() {
        return true;
    }

    @Override
    public void inject(Module model, PeftConfig config, String adapterName, TunerContext context) {
        if (!configClass().isInstance(config)) {
            throw new PeftException(peftType() + " needs a " + configClass().getSimpleName() + ", got "
                    + config.getClass().getSimpleName());
        }
        PromptPrefix.Embeddings embeddings = PromptLearning.only(model, PromptPrefix.Embeddings.class,
                "input-embedding layer that accepts a prompt");
        long dim;
        try (org.peft4j.api.backend.Scope ignored = model.backend().scope()) {
            dim = embeddings.embedTokens(model.backend().fromLongs(new long[] {0}, 1)).size(-1);
        }
        Integer tokenDim = tokenDim(config);
        if (tokenDim != null && tokenDim != dim) {
            throw new PeftException("token_dim " + tokenDim + " does not match the model's embedding width " + dim);
        }
        SoftPrompt prompt = create(config, dim, embeddings, context);
        PromptLearning.encoders(model).put(adapterName, prompt);
        if (embeddings.prompt() == null) {
            embeddings.setPrompt(prompt);
        }
    }

    /** The config's {@code token_dim}, or null. */
    abstract Integer tokenDim(PeftConfig config);

    @Override
    public Map<String, Parameter> adapterState(Module model, String adapterName) {
        SoftPrompt prompt = PromptLearning.encoder(model, adapterName, SoftPrompt.class);
        Map<String, Parameter> out = new LinkedHashMap<>();
        prompt.namedParameters().forEach((k, p) -> {
            if (p.trainable()) {
                out.put("prompt_encoder." + k, p);
            }
        });
        return out;
    }

    @Override
    public Map<String, Tensor> savedState(Module model, String adapterName) {
        return Map.of(SAVED, PromptLearning.encoder(model, adapterName, SoftPrompt.class).prompt());
    }

    @Override
    public void loadState(Module model, String adapterName, Map<String, Tensor> tensors) {
        PromptLearning.encoder(model, adapterName, SoftPrompt.class).load(tensors.get(SAVED));
    }

    @Override
    public void setActive(Module model, String adapterName, boolean active) {
        SoftPrompt prompt = PromptLearning.encoder(model, adapterName, SoftPrompt.class);
        PromptPrefix.Embeddings embeddings = PromptLearning.only(model, PromptPrefix.Embeddings.class,
                "input-embedding layer that accepts a prompt");
        if (active) {
            embeddings.setPrompt(prompt);
        } else if (embeddings.prompt() == prompt) {
            embeddings.setPrompt(null);
        }
    }

    @Override
    public void delete(Module model, String adapterName) {
        setActive(model, adapterName, false);
        PromptLearning.removeEncoder(model, adapterName);
    }
}
