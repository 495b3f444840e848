package org.peft4j.prefix;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.api.PeftException;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.config.TaskType;

/**
 * HF PEFT's {@code PrefixTuningConfig} ({@code peft_type} {@value #PEFT_TYPE}): learned keys and
 * values put before every attention layer's own.
 *
 * @param numVirtualTokens prefix length (required, positive)
 * @param tokenDim model width; filled from the model when absent
 * @param numLayers attention layers; filled from the model when absent
 * @param numAttentionHeads heads; filled from the model when absent
 * @param numTransformerSubmodules HF's field, kept for round trips
 * @param encoderHiddenSize hidden width of the projection MLP (with {@code prefix_projection})
 * @param prefixProjection reparameterise the prefixes through an MLP while training
 * @param modulesToSave modules trained in full and saved
 * @param taskType HF task type, or null
 * @param baseModelNameOrPath base model id, or null
 * @param inferenceMode HF's {@code inference_mode}
 * @param extras keys this class does not know
 */
@JsonIgnoreProperties(value = "peft_type", allowGetters = true)
@JsonInclude(JsonInclude.Include.ALWAYS)
public record PrefixTuningConfig(
        @JsonProperty("num_virtual_tokens") Integer numVirtualTokens,
        @JsonProperty("token_dim") Integer tokenDim,
        @JsonProperty("num_layers") Integer numLayers,
        @JsonProperty("num_attention_heads") Integer numAttentionHeads,
        @JsonProperty("num_transformer_submodules") Integer numTransformerSubmodules,
        @JsonProperty("encoder_hidden_size") Integer encoderHiddenSize,
        @JsonProperty("prefix_projection") Boolean prefixProjection,
        @JsonProperty("modules_to_save") List<String> modulesToSave,
        @JsonProperty("task_type") TaskType taskType,
        @JsonProperty("base_model_name_or_path") String baseModelNameOrPath,
        @JsonProperty("inference_mode") Boolean inferenceMode,
        @JsonAnySetter Map<String, Object> extras) implements PeftConfig {

    /** HF's {@code peft_type} for prefix tuning. */
    public static final String PEFT_TYPE = "PREFIX_TUNING";

    public PrefixTuningConfig {
        if (numVirtualTokens == null || numVirtualTokens <= 0) {
            throw new PeftException("num_virtual_tokens must be a positive integer, got " + numVirtualTokens);
        }
        prefixProjection = prefixProjection != null && prefixProjection;
        for (Integer v : new Integer[] {tokenDim, numLayers, numAttentionHeads, encoderHiddenSize}) {
            if (v != null && v <= 0) {
                throw new PeftException("token_dim, num_layers, num_attention_heads and encoder_hidden_size must be "
                        + "positive when given; got " + tokenDim + ", " + numLayers + ", " + numAttentionHeads + ", "
                        + encoderHiddenSize);
            }
        }
        modulesToSave = modulesToSave == null ? List.of() : List.copyOf(modulesToSave);
        inferenceMode = inferenceMode != null && inferenceMode;
        extras = extras == null ? new LinkedHashMap<>() : new LinkedHashMap<>(extras);
    }

    /** A prefix of {@code n} tokens, projected through an MLP of {@code hidden} when {@code projection}. */
    public static PrefixTuningConfig of(int n, boolean projection, Integer hidden, String... modulesToSave) {
        return new PrefixTuningConfig(n, null, null, null, null, hidden, projection, List.of(modulesToSave), null,
                null, false, null);
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
