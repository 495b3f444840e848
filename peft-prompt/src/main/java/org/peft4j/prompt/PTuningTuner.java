package org.peft4j.prompt;

import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.nn.PromptPrefix;
import org.peft4j.api.tuner.TunerContext;

/**
 * P-tuning ({@code peft_type} {@value PromptEncoderConfig#PEFT_TYPE}): virtual tokens through an
 * MLP or LSTM prompt encoder. The file holds the encoder's output, as HF saves it; a loaded
 * adapter uses those embeddings directly.
 */
public final class PTuningTuner extends SoftPromptTuner {

    @Override
    public String peftType() {
        return PromptEncoderConfig.PEFT_TYPE;
    }

    @Override
    public Class<? extends PeftConfig> configClass() {
        return PromptEncoderConfig.class;
    }

    @Override
    Integer tokenDim(PeftConfig config) {
        return ((PromptEncoderConfig) config).tokenDim();
    }

    @Override
    SoftPrompt create(PeftConfig config, long dim, PromptPrefix.Embeddings embeddings, TunerContext context) {
        PromptEncoderConfig c = (PromptEncoderConfig) config;
        long hidden = c.encoderHiddenSize() == null ? dim : c.encoderHiddenSize();
        return new PromptEncoder(context.backend(), context.init().normal(context.backend(), 0f, 1f,
                c.numVirtualTokens(), dim), c, hidden, context.init());
    }
}
