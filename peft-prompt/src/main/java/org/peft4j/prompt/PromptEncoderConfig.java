package org.peft4j.prompt;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Locale;
import org.peft4j.api.PeftException;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.core.tuner.PromptKeys;

/**
 * HF PEFT's {@code PromptEncoderConfig}, P-tuning ({@code peft_type} {@value #PEFT_TYPE}): the
 * virtual token embeddings pass through a reparameterisation network (an MLP, or a bidirectional
 * LSTM and an MLP) before they are put before the input embeddings.
 *
 * @param prompt {@code num_virtual_tokens} (required) and {@code token_dim} (filled from the model when absent)
 * @param encoderReparameterizationType {@code MLP} or {@code LSTM}
 * @param encoderHiddenSize hidden width of the encoder; the token width when absent
 * @param encoderNumLayers LSTM layers (HF's default 2; the MLP always has two hidden layers, as HF's)
 * @param encoderDropout LSTM dropout between layers (HF's default 0)
 * @param shared the keys every method shares ({@code task_type}, {@code modules_to_save}, ...)
 */
@JsonIgnoreProperties(value = "peft_type", allowGetters = true)
@JsonInclude(JsonInclude.Include.ALWAYS)
public record PromptEncoderConfig(
        @JsonProperty(PromptKeys.KEYS) PromptKeys prompt,
        @JsonProperty("encoder_reparameterization_type") String encoderReparameterizationType,
        @JsonProperty("encoder_hidden_size") Integer encoderHiddenSize,
        @JsonProperty("encoder_num_layers") Integer encoderNumLayers,
        @JsonProperty("encoder_dropout") Float encoderDropout,
        @JsonProperty(PeftConfig.SHARED) Shared shared) implements PeftConfig {

    /** HF's {@code peft_type} for P-tuning. */
    public static final String PEFT_TYPE = "P_TUNING";
    private static final List<String> TYPES = List.of("MLP", "LSTM");

    public PromptEncoderConfig {
        if (prompt == null) {
            throw new PeftException("num_virtual_tokens must be a positive integer, got null");
        }
        encoderReparameterizationType = encoderReparameterizationType == null ? "MLP"
                : encoderReparameterizationType.toUpperCase(Locale.ROOT);
        if (!TYPES.contains(encoderReparameterizationType)) {
            throw new PeftException("encoder_reparameterization_type must be one of " + TYPES + ", got '"
                    + encoderReparameterizationType + "'");
        }
        encoderNumLayers = encoderNumLayers == null ? 2 : encoderNumLayers;
        encoderDropout = encoderDropout == null ? 0f : encoderDropout;
        if (encoderNumLayers <= 0) {
            throw new PeftException("encoder_num_layers must be positive, got " + encoderNumLayers);
        }
        if (!(encoderDropout >= 0f && encoderDropout < 1f)) {
            throw new PeftException("encoder_dropout must be in [0, 1), got " + encoderDropout);
        }
        if (encoderHiddenSize != null && encoderHiddenSize <= 0) {
            throw new PeftException("encoder_hidden_size must be positive when given, got " + encoderHiddenSize);
        }
        shared = shared == null ? Shared.NONE : shared;
    }

    /** P-tuning with {@code n} virtual tokens through an encoder of {@code type} (MLP or LSTM). */
    public static PromptEncoderConfig of(int n, String type, Integer hidden, String... modulesToSave) {
        return new PromptEncoderConfig(PromptKeys.of(n), type, hidden, null, null, Shared.of(null, List.of(modulesToSave)));
    }

    @Override
    @JsonProperty("peft_type")
    public String peftType() {
        return PEFT_TYPE;
    }
}
