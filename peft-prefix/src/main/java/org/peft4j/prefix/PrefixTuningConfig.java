package org.peft4j.prefix;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import org.peft4j.api.PeftException;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.core.tuner.PromptKeys;

/**
 * HF PEFT's {@code PrefixTuningConfig} ({@code peft_type} {@value #PEFT_TYPE}): learned keys and
 * values put before every attention layer's own.
 *
 * @param prompt {@code num_virtual_tokens} (required) and the model sizes, filled from the model when absent
 * @param encoderHiddenSize hidden width of the projection MLP; the token width when absent
 * @param prefixProjection pass the prefix through an MLP (Linear, tanh, Linear) while training
 * @param shared the keys every method shares ({@code task_type}, {@code modules_to_save}, ...)
 */
@JsonIgnoreProperties(value = "peft_type", allowGetters = true)
@JsonInclude(JsonInclude.Include.ALWAYS)
public record PrefixTuningConfig(
        @JsonProperty(PromptKeys.KEYS) PromptKeys prompt,
        @JsonProperty("encoder_hidden_size") Integer encoderHiddenSize,
        @JsonProperty("prefix_projection") Boolean prefixProjection,
        @JsonProperty(PeftConfig.SHARED) Shared shared) implements PeftConfig {

    /** HF's {@code peft_type} for prefix tuning. */
    public static final String PEFT_TYPE = "PREFIX_TUNING";

    public PrefixTuningConfig {
        if (prompt == null) {
            throw new PeftException("num_virtual_tokens must be a positive integer, got null");
        }
        prefixProjection = prefixProjection != null && prefixProjection;
        if (encoderHiddenSize != null && encoderHiddenSize <= 0) {
            throw new PeftException("encoder_hidden_size must be positive when given, got " + encoderHiddenSize);
        }
        shared = shared == null ? Shared.NONE : shared;
    }

    /** A prefix of {@code n} tokens, projected through an MLP of {@code hidden} when {@code projection}. */
    public static PrefixTuningConfig of(int n, boolean projection, Integer hidden, String... modulesToSave) {
        return new PrefixTuningConfig(PromptKeys.of(n), hidden, projection, Shared.of(null, List.of(modulesToSave)));
    }

    @Override
    @JsonProperty("peft_type")
    public String peftType() {
        return PEFT_TYPE;
    }
}
