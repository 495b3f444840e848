package com.example.bitfit;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.tuner.TargetSpec;

/**
 * A third party's config ({@code peft_type} {@value #PEFT_TYPE}): which linear layers get a
 * trainable bias shift. Written against peft-api only: the shared keys ({@code task_type},
 * {@code modules_to_save}, unknown keys) and the target keys come as two ready-made components.
 *
 * @param targets linear layers to shift ({@code target_modules}, {@code exclude_modules}, ...)
 * @param shared the keys every method shares
 */
@JsonIgnoreProperties(value = "peft_type", allowGetters = true)
public record BitFitConfig(
        @JsonProperty(TargetSpec.KEYS) TargetSpec targets,
        @JsonProperty(PeftConfig.SHARED) Shared shared) implements PeftConfig {

    public static final String PEFT_TYPE = "BITFIT";

    public BitFitConfig {
        if (targets == null) {
            throw new org.peft4j.api.PeftException("target_modules is required for BITFIT");
        }
        shared = shared == null ? Shared.NONE : shared;
    }

    @Override
    @JsonProperty("peft_type")
    public String peftType() {
        return PEFT_TYPE;
    }
}
