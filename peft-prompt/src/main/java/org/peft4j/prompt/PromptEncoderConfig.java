package org.peft4j.prompt;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.peft4j.api.PeftException;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.config.TaskType;

/**
 * HF PEFT's {@code PromptEncoderConfig}, P-tuning ({@code peft_type} {@value #PEFT_TYPE}): the
 * virtual token embeddings pass through a reparameterisation network (an MLP, or a bidirectional
 * LSTM and an MLP) before they are put before the input embeddings.
 *
 * @param numVirtualTokens length of the prompt (required, positive)
 * @param tokenDim width of the embeddings; filled from the model when absent
 * @param encoderReparameterizationType {@code MLP} or {@code LSTM}
 * @param encoderHiddenSize hidden width of the encoder; the token width when absent
 * @param encoderNumLayers LSTM layers (HF's default 2; the MLP always has two hidden layers, as HF's)
 * @param encoderDropout LSTM dropout between layers (HF's default 0)
 * @param numTransformerSubmodules HF's field, kept for round trips
 * @param numAttentionHeads HF's field, kept for round trips
 * @param numLayers HF's field, kept for round trips
 * @param modulesToSave modules trained in full and saved
 * @param taskType HF task type, or null
 * @param baseModelNameOrPath base model id, or null
 * @param inferenceMode HF's {@code inference_mode}
 * @param extras keys this class does not know
 */
@JsonIgnoreProperties(value = "peft_type", allowGetters = true)
@JsonInclude(JsonInclude.Include.ALWAYS)
public record PromptEncoderConfig(
        @JsonProperty("num_virtual_tokens") Integer numVirtualTokens,
        @JsonProperty("token_dim") Integer tokenDim,
        @JsonProperty("encoder_reparameterization_type") String encoderReparameterizationType,
        @JsonProperty("encoder_hidden_size") Integer encoderHiddenSize,
        @JsonProperty("encoder_num_layers") Integer encoderNumLayers,
        @JsonProperty("encoder_dropout") Float encoderDropout,
        @JsonProperty("num_transformer_submodules") Integer numTransformerSubmodules,
        @JsonProperty("num_attention_heads") Integer numAttentionHeads,
        @JsonProperty("num_layers") Integer numLayers,
        @JsonProperty("modules_to_save") List<String> modulesToSave,
        @JsonProperty("task_type") TaskType taskType,
        @JsonProperty("base_model_name_or_path") String baseModelNameOrPath,
        @JsonProperty("inference_mode") Boolean inferenceMode,
        @JsonAnySetter Map<String, Object> extras) implements PeftConfig {

    /** HF's {@code peft_type} for P-tuning. */
    public static final String PEFT_TYPE = "P_TUNING";
    private static final List<String> TYPES = List.of("MLP", "LSTM");

    public PromptEncoderConfig {
        if (numVirtualTokens == null || numVirtualTokens <= 0) {
            throw new PeftException("num_virtual_tokens must be a positive integer, got " + numVirtualTokens);
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
        if ((tokenDim != null && tokenDim <= 0) || (encoderHiddenSize != null && encoderHiddenSize <= 0)) {
            throw new PeftException("token_dim and encoder_hidden_size must be positive, got " + tokenDim + ", "
                    + encoderHiddenSize);
        }
        modulesToSave = modulesToSave == null ? List.of() : List.copyOf(modulesToSave);
        inferenceMode = inferenceMode != null && inferenceMode;
        extras = extras == null ? new LinkedHashMap<>() : new LinkedHashMap<>(extras);
    }

    /** P-tuning with {@code n} virtual tokens through an encoder of {@code type} (MLP or LSTM). */
    public static PromptEncoderConfig of(int n, String type, Integer hidden, String... modulesToSave) {
        return new PromptEncoderConfig(n, null, type, hidden, null, null, null, null, null, List.of(modulesToSave),
                null, null, false, null);
    }

    @Override
    @JsonProperty("peft_type")
    public String peftType() {
        return PEFT_TYPE;
    }

    @Override
    @JsonAnyGetter
    public Map<String, Object> extras() {
        return java.util.Collections.unmodifiableMap(extras);
    }
}
