package org.peft4j.api.tuner;

import org.peft4j.api.backend.Backend;
import org.peft4j.api.nn.Init;

/**
 * What a {@link Tuner} gets besides the model and config.
 *
 * @param backend where new tensors are made
 * @param selector resolves target specs to module paths
 * @param init seeded initialisation, identical across backends
 * @param tokenizer the model's tokenizer (text to ids), or null when the caller has none
 */
public record TunerContext(Backend backend, TargetSelector selector, Init init,
        java.util.function.Function<String, long[]> tokenizer) {

    /**
     * The token ids of {@code text} as the model's tokenizer makes them (special tokens included),
     * for methods initialised from text (prompt tuning's {@code TEXT} init).
     *
     * @throws org.peft4j.api.PeftException when the model was wrapped without a tokenizer
     */
    public long[] tokenize(String text) {
        if (tokenizer == null) {
            throw new org.peft4j.api.PeftException("this method needs the model's tokenizer to initialise from text; "
                    + "create the PeftModel with PeftModelFactory.create(model, seed, tokenizer)");
        }
        return tokenizer.apply(text);
    }
}
