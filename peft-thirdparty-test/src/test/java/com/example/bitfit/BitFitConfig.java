package com.example.bitfit;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.api.PeftException;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.config.TargetModules;
import org.peft4j.api.config.TaskType;
import org.peft4j.api.tuner.TargetSpec;

/**
 * A third party's config ({@code peft_type} {@value #PEFT_TYPE}): which linear layers get a
 * trainable bias shift. Written against peft-api only.
 *
 * @param targetModules linear layers to shift
 * @param modulesToSave modules trained in full and saved with the adapter
 * @param taskType HF task type, or null
 * @param baseModelNameOrPath base model id, or null
 * @param extras keys this class does not know
 */
@JsonIgnoreProperties(value = "peft_type", allowGetters = true)
public record BitFitConfig(
        @JsonProperty("target_modules") TargetModules targetModules,
        @JsonProperty("modules_to_save") List<String> modulesToSave,
        @JsonProperty("task_type") TaskType taskType,
        @JsonProperty("base_model_name_or_path") String baseModelNameOrPath,
        @JsonAnySetter Map<String, Object> extras) implements PeftConfig {

    public static final String PEFT_TYPE = "BITFIT";

    public BitFitConfig {
        if (targetModules == null) {
            throw new PeftException("target_modules is required for BITFIT");
        }
        modulesToSave = modulesToSave == null ? List.of() : List.copyOf(modulesToSave);
        extras = extras == null ? new LinkedHashMap<>() : new LinkedHashMap<>(extras);
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
