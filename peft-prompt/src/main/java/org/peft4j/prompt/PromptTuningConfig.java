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
 * HF PEFT's {@code PromptTuningConfig} ({@code peft_type} {@value #PEFT_TYPE}): a soft prompt of
 * {@code num_virtual_tokens} embeddings put before the input embeddings.
 *
 * @param prompt {@code num_virtual_tokens} (required) and {@code token_dim} (filled from the model when absent)
 * @param promptTuningInit {@code RANDOM} (normal(0, 1), as torch's Embedding) or {@code TEXT}
 * @param promptTuningInitText the text embedded for {@code TEXT} init
 * @param tokenizerNameOrPath HF's tokenizer id for {@code TEXT} init, recorded only: peft4j uses the model's own tokenizer
 * @param shared the keys every method shares ({@code task_type}, {@code modules_to_save}, ...)
 */
@JsonIgnoreProperties(value = "peft_type", allowGetters = true)
@JsonInclude(JsonInclude.Include.ALWAYS)
public record PromptTuningConfig(
        @JsonProperty(PromptKeys.KEYS) PromptKeys prompt,
        @JsonProperty("prompt_tuning_init") String promptTuningInit,
        @JsonProperty("prompt_tuning_init_text") String promptTuningInitText,
        @JsonProperty("tokenizer_name_or_path") String tokenizerNameOrPath,
        @JsonProperty(PeftConfig.SHARED) Shared shared) implements PeftConfig {

    /** HF's {@code peft_type} for prompt tuning. */
    public static final String PEFT_TYPE = "PROMPT_TUNING";
    private static final List<String> INITS = List.of("RANDOM", "TEXT");

    public PromptTuningConfig {
        if (prompt == null) {
            throw new PeftException("num_virtual_tokens must be a positive integer, got null");
        }
        promptTuningInit = promptTuningInit == null ? "RANDOM" : promptTuningInit.toUpperCase(Locale.ROOT);
        if (!INITS.contains(promptTuningInit)) {
            throw new PeftException("prompt_tuning_init must be one of " + INITS + ", got '" + promptTuningInit + "'");
        }
        if (promptTuningInit.equals("TEXT") && (promptTuningInitText == null || promptTuningInitText.isBlank())) {
            throw new PeftException("prompt_tuning_init TEXT needs a non-empty prompt_tuning_init_text");
        }
        shared = shared == null ? Shared.NONE : shared;
    }

    /** A RANDOM-init soft prompt of {@code n} tokens. */
    public static PromptTuningConfig random(int n, String... modulesToSave) {
        return new PromptTuningConfig(PromptKeys.of(n), "RANDOM", null, null, Shared.of(null, List.of(modulesToSave)));
    }

    /** A soft prompt of {@code n} tokens initialised from the embeddings of {@code text}. */
    public static PromptTuningConfig text(int n, String text, String... modulesToSave) {
        return new PromptTuningConfig(PromptKeys.of(n), "TEXT", text, null, Shared.of(null, List.of(modulesToSave)));
    }

    @Override
    @JsonProperty("peft_type")
    public String peftType() {
        return PEFT_TYPE;
    }
}
