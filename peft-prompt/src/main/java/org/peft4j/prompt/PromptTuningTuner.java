package org.peft4j.prompt;

import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.PromptPrefix;
import org.peft4j.api.tuner.TunerContext;
import org.peft4j.core.tuner.PromptKeys;

/**
 * Prompt tuning ({@code peft_type} {@value PromptTuningConfig#PEFT_TYPE}): a trainable soft prompt.
 * {@code TEXT} init embeds the init text with the model's own word embeddings, repeating or
 * cutting its token ids to {@code num_virtual_tokens}, as HF does.
 */
public final class PromptTuningTuner extends SoftPromptTuner<PromptTuningConfig> {

    public PromptTuningTuner() {
        super(PromptTuningConfig.PEFT_TYPE, PromptTuningConfig.class);
    }
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(PromptTuningTuner.class);

    @Override
    PromptKeys prompt(PromptTuningConfig config) {
        return config.prompt();
    }

    @Override
    Integer tokenDim(PromptTuningConfig config) {
        return config.prompt().tokenDim();
    }

    @Override
    SoftPrompt create(PromptTuningConfig c, long dim, PromptPrefix.Embeddings embeddings, TunerContext context) {
        Backend b = context.backend();
        int n = c.prompt().numVirtualTokens();
        Tensor table;
        if (c.promptTuningInit().equals("TEXT") && context.tokenizer() == null) {
            // loading a saved adapter replaces the table anyway; a fresh one gets a clear warning
            LOG.warn("prompt_tuning_init TEXT needs the model's tokenizer (factory.create(model, seed, tokenizer));"
                    + " none was given, so the prompt starts RANDOM");
        }
        if (c.promptTuningInit().equals("TEXT") && context.tokenizer() != null) {
            long[] ids = context.tokenize(c.promptTuningInitText());
            if (ids.length == 0) {
                throw new org.peft4j.api.PeftException("prompt_tuning_init_text '" + c.promptTuningInitText()
                        + "' gives no tokens");
            }
            long[] repeated = new long[n];
            for (int i = 0; i < n; i++) {
                repeated[i] = ids[i % ids.length];
            }
            try (org.peft4j.api.backend.Scope s = b.scope()) {
                // a copy, detached: the prompt must not share storage or gradients with the frozen table
                table = b.keep(b.fromFloats(embeddings.embedTokens(b.fromLongs(repeated, n)).toFloatArray(), n, dim));
            }
        } else {
            table = context.init().normal(b, 0f, 1f, n, dim);
        }
        return new PromptEmbedding(b, table);
    }
}
