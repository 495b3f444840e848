package org.peft4j.prompt;

import org.peft4j.api.nn.PromptPrefix;
import org.peft4j.api.tuner.TunerContext;
import org.peft4j.core.tuner.PromptKeys;

/**
 * P-tuning ({@code peft_type} {@value PromptEncoderConfig#PEFT_TYPE}): virtual tokens through an
 * MLP or LSTM prompt encoder. The file holds the encoder's output, as HF saves it; a loaded
 * adapter uses those embeddings directly.
 */
public final class PTuningTuner extends SoftPromptTuner<PromptEncoderConfig> {

    public PTuningTuner() {
        super(PromptEncoderConfig.PEFT_TYPE, PromptEncoderConfig.class);
    }

    @Override
    PromptKeys prompt(PromptEncoderConfig config) {
        return config.prompt();
    }

    @Override
    Integer tokenDim(PromptEncoderConfig config) {
        return config.prompt().tokenDim();
    }

    @Override
    SoftPrompt create(PromptEncoderConfig c, long dim, PromptPrefix.Embeddings embeddings, TunerContext context) {
        long hidden = c.encoderHiddenSize() == null ? dim : c.encoderHiddenSize();
        return new PromptEncoder(context.backend(), context.init().normal(context.backend(), 0f, 1f,
                c.prompt().numVirtualTokens(), dim), c, hidden, context.init());
    }
}
