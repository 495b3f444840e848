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
 * HF PEFT's {@code PromptTuningConfig} ({@code peft_type} {@value #PEFT_TYPE}): a soft prompt of
 * {@code num_virtual_tokens} embeddings put before the input embeddings.
 *
 * @param numVirtualTokens length of the soft prompt (required, positive)
 * @param tokenDim width of the embeddings; filled from the model when absent
 * @param numTransformerSubmodules HF's field, 1 for encoders and decoders; kept for round trips
 * @param numAttentionHeads HF's field, kept for round trips
 * @param numLayers HF's field, kept for round trips
 * @param promptTuningInit {@code RANDOM} (normal(0, 1), as torch's Embedding) or {@code TEXT}
 * @param promptTuningInitText the text embedded for {@code TEXT} init
 * @param tokenizerNameOrPath HF's tokenizer id for {@code TEXT} init, recorded only: peft4j uses the model's own tokenizer
 * @param modulesToSave modules trained in full and saved (the classifier)
 * @param taskType HF task type, or null
 * @param baseModelNameOrPath base model id, or null
 * @param inferenceMode HF's {@code inference_mode}
 * @param extras keys this class does not know
 */
@JsonIgnoreProperties(value = "peft_type", allowGetters = true)
@JsonInclude(JsonInclude.Include.ALWAYS)
public record PromptTuningConfig(
        @JsonProperty("num_virtual_tokens") Integer numVirtualTokens,
        @JsonProperty("token_dim") Integer tokenDim,
        @JsonProperty("num_transformer_submodules") Integer numTransformerSubmodules,
        @JsonProperty("num_attention_heads") Integer numAttentionHeads,
        @JsonProperty("num_layers") Integer numLayers,
        @JsonProperty("prompt_tuning_init") String promptTuningInit,
        @JsonProperty("prompt_tuning_init_text") String promptTuningInitText,
        @JsonProperty("tokenizer_name_or_path") String tokenizerNameOrPath,
        @JsonProperty("modules_to_save") List<String> modulesToSave,
        @JsonProperty("task_type") TaskType taskType,
        @JsonProperty("base_model_name_or_path") String baseModelNameOrPath,
        @JsonProperty("inference_mode") Boolean inferenceMode,
        @JsonAnySetter Map<String, Object> extras) implements PeftConfig {

    /** HF's {@code peft_type} for prompt tuning. */
    public static final String PEFT_TYPE = "PROMPT_TUNING";
    private static final List<String> INITS = List.of("RANDOM", "TEXT");

    public PromptTuningConfig {
        if (numVirtualTokens == null || numVirtualTokens <= 0) {
            throw new PeftException("num_virtual_tokens must be a positive integer, got " + numVirtualTokens);
        }
        if (tokenDim != null && tokenDim <= 0) {
            throw new PeftException("token_dim must be positive, got " + tokenDim);
        }
        promptTuningInit = promptTuningInit == null ? "RANDOM" : promptTuningInit.toUpperCase(Locale.ROOT);
        if (!INITS.contains(promptTuningInit)) {
            throw new PeftException("prompt_tuning_init must be one of " + INITS + ", got '" + promptTuningInit + "'");
        }
        if (promptTuningInit.equals("TEXT") && (promptTuningInitText == null || promptTuningInitText.isBlank())) {
            throw new PeftException("prompt_tuning_init TEXT needs a non-empty prompt_tuning_init_text");
        }
        modulesToSave = modulesToSave == null ? List.of() : List.copyOf(modulesToSave);
        inferenceMode = inferenceMode != null && inferenceMode;
        extras = extras == null ? new LinkedHashMap<>() : new LinkedHashMap<>(extras);
    }

    /** A RANDOM-init soft prompt of {@code n} tokens. */
    public static PromptTuningConfig random(int n, String... modulesToSave) {
        return new PromptTuningConfig(n, null, null, null, null, "RANDOM", null, null, List.of(modulesToSave), null,
                null, false, null);
    }

    /** A soft prompt of {@code n} tokens initialised from the embeddings of {@code text}. */
    public static PromptTuningConfig text(int n, String text, String... modulesToSave) {
        return new PromptTuningConfig(n, null, null, null, null, "TEXT", text, null, List.of(modulesToSave), null,
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
