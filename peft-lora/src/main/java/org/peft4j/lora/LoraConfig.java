package org.peft4j.lora;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.peft4j.api.PeftException;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.config.TargetModules;
import org.peft4j.api.config.TaskType;
import org.peft4j.api.tuner.TargetSpec;

/**
 * LoRA's {@code adapter_config.json}, with HF PEFT's key names, defaults and meaning. Missing
 * keys take HF's defaults ({@code r} 8, {@code lora_alpha} 8, ...).
 *
 * @param r rank of the update
 * @param loraAlpha scaling numerator: scaling is alpha/r (alpha/sqrt(r) with rsLoRA)
 * @param loraDropout dropout on the LoRA input, in [0, 1)
 * @param targets {@code target_modules} (names, suffixes, a regex or {@code all-linear}),
 *     {@code exclude_modules}, {@code layers_to_transform}, {@code layers_pattern}
 * @param bias which biases train: {@code none}, {@code all} or {@code lora_only}
 * @param initLoraWeights initialisation of A and B
 * @param useRslora scale by alpha/sqrt(r)
 * @param useDora weight-decomposed LoRA
 * @param rankPattern per-module rank overrides (key matched as {@code (.*\.)?key$})
 * @param alphaPattern per-module alpha overrides
 * @param fanInFanOut whether the target stores weights (in, out), as GPT-2's Conv1D
 * @param shared the keys every method shares ({@code task_type}, {@code modules_to_save}, ...)
 */
@JsonIgnoreProperties(value = "peft_type", allowGetters = true)
@JsonInclude(JsonInclude.Include.ALWAYS)
public record LoraConfig(
        @JsonProperty("r") Integer r,
        @JsonProperty("lora_alpha") Float loraAlpha,
        @JsonProperty("lora_dropout") Float loraDropout,
        @JsonProperty(TargetSpec.KEYS) TargetSpec targets,
        @JsonProperty("bias") String bias,
        @JsonProperty("init_lora_weights") InitLoraWeights initLoraWeights,
        @JsonProperty("use_rslora") Boolean useRslora,
        @JsonProperty("use_dora") Boolean useDora,
        @JsonProperty("rank_pattern") Map<String, Integer> rankPattern,
        @JsonProperty("alpha_pattern") Map<String, Float> alphaPattern,
        @JsonProperty("fan_in_fan_out") Boolean fanInFanOut,
        @JsonProperty(PeftConfig.SHARED) Shared shared) implements PeftConfig {

    /** HF's {@code peft_type} for LoRA. */
    public static final String PEFT_TYPE = "LORA";
    private static final Set<String> BIAS = Set.of("none", "all", "lora_only");

    public LoraConfig {
        r = r == null ? 8 : r;
        loraAlpha = loraAlpha == null ? 8f : loraAlpha;
        loraDropout = loraDropout == null ? 0f : loraDropout;
        bias = bias == null ? "none" : bias;
        initLoraWeights = initLoraWeights == null ? InitLoraWeights.DEFAULT : initLoraWeights;
        useRslora = useRslora != null && useRslora;
        useDora = useDora != null && useDora;
        rankPattern = rankPattern == null ? Map.of() : Map.copyOf(rankPattern);
        alphaPattern = alphaPattern == null ? Map.of() : Map.copyOf(alphaPattern);
        fanInFanOut = fanInFanOut != null && fanInFanOut;
        shared = shared == null ? Shared.NONE : shared;
        if (targets == null) {
            throw new PeftException("target_modules is required (a list of module names, a regex or \"all-linear\")");
        }
        if (r <= 0) {
            throw new PeftException("r must be a positive integer, got " + r);
        }
        if (!(loraDropout >= 0f && loraDropout < 1f)) {
            throw new PeftException("lora_dropout must be in [0, 1), got " + loraDropout);
        }
        if (!Float.isFinite(loraAlpha)) {
            throw new PeftException("lora_alpha must be a finite number, got " + loraAlpha);
        }
        if (!BIAS.contains(bias)) {
            throw new PeftException("bias must be one of " + BIAS + ", got '" + bias + "'");
        }
        rankPattern.forEach((k, v) -> {
            if (v == null || v <= 0) {
                throw new PeftException("rank_pattern['" + k + "'] must be a positive integer, got " + v);
            }
        });
    }

    /** A config with HF's defaults targeting {@code targetModules}. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    @JsonProperty("peft_type")
    public String peftType() {
        return PEFT_TYPE;
    }

    /** What this config targets. */
    public TargetModules targetModules() {
        return targets.targetModules();
    }

    /** HF's {@code init_lora_weights}: {@code true}, {@code false} or {@code "gaussian"}. */
    public enum InitLoraWeights {
        /** A kaiming-uniform (a = sqrt(5)), B zero: the adapter starts as a no-op. */
        DEFAULT(Boolean.TRUE),
        /** A normal with std 1/r, B zero. */
        GAUSSIAN("gaussian"),
        /** Both A and B random (PyTorch Linear init): the adapter changes outputs from the start. */
        RANDOM(Boolean.FALSE);

        private final Object json;

        InitLoraWeights(Object json) {
            this.json = json;
        }

        @JsonValue
        Object json() {
            return json;
        }

        @JsonCreator
        static InitLoraWeights fromJson(Object value) {
            for (InitLoraWeights w : values()) {
                if (w.json.equals(value)) {
                    return w;
                }
            }
            throw new PeftException("init_lora_weights must be true, false or \"gaussian\", got " + value);
        }
    }

    /** Builder with HF's defaults; {@code targetModules} is required. */
    public static final class Builder {
        private int r = 8;
        private float alpha = 8f;
        private float dropout;
        private TargetModules target;
        private String bias = "none";
        private List<String> modulesToSave = List.of();
        private InitLoraWeights init = InitLoraWeights.DEFAULT;
        private boolean rslora;
        private boolean dora;
        private boolean fanInFanOut;
        private TaskType taskType;

        public Builder r(int value) {
            this.r = value;
            return this;
        }

        public Builder loraAlpha(float value) {
            this.alpha = value;
            return this;
        }

        public Builder loraDropout(float value) {
            this.dropout = value;
            return this;
        }

        public Builder targetModules(String... names) {
            this.target = TargetModules.names(names);
            return this;
        }

        public Builder targetModules(TargetModules value) {
            this.target = value;
            return this;
        }

        public Builder bias(String value) {
            this.bias = value;
            return this;
        }

        public Builder modulesToSave(String... paths) {
            this.modulesToSave = List.of(paths);
            return this;
        }

        public Builder initLoraWeights(InitLoraWeights value) {
            this.init = value;
            return this;
        }

        public Builder useRslora(boolean value) {
            this.rslora = value;
            return this;
        }

        /** DoRA: weight-decomposed LoRA with a learned magnitude per output row. */
        public Builder useDora(boolean value) {
            this.dora = value;
            return this;
        }

        /**
         * Marks targets that store weights (in, out), GPT-2's Conv1D; HF PEFT sets it for them.
         * Our models hold every projection as (out, in), so it changes only the saved config.
         */
        public Builder fanInFanOut(boolean value) {
            this.fanInFanOut = value;
            return this;
        }

        public Builder taskType(TaskType value) {
            this.taskType = value;
            return this;
        }

        public LoraConfig build() {
            return new LoraConfig(r, alpha, dropout, target == null ? null : new TargetSpec(target, null, null, null),
                    bias, init, rslora, dora, null, null, fanInFanOut, Shared.of(taskType, modulesToSave));
        }
    }
}
