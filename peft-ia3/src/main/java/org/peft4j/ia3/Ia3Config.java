package org.peft4j.ia3;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.ArrayList;
import java.util.List;
import org.peft4j.api.PeftException;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.config.TargetModules;
import org.peft4j.api.config.TaskType;
import org.peft4j.api.tuner.TargetSpec;

/**
 * IA3's {@code adapter_config.json}, with HF PEFT's key names, defaults and meaning
 * ({@code peft_type} {@value #PEFT_TYPE}).
 *
 * <p>Unlike HF PEFT, which falls back to a per-architecture table when {@code target_modules} is
 * missing, peft4j needs it spelled out; for BERT, HF's table says
 * {@code target_modules ["key", "value", "output.dense"]} and
 * {@code feedforward_modules ["output.dense"]}. Missing {@code feedforward_modules} means none.
 *
 * @param targetModules modules to scale (names, suffixes or a regex)
 * @param excludeModules modules to leave out, or null
 * @param feedforwardModules targets treated as feed-forward: their input is scaled (a vector of
 *     size in) instead of their output (size out); a list must be a subset of a listed
 *     {@code target_modules}
 * @param initIa3Weights start the vectors at one (a no-op); false draws them from N(0, 1) as HF does
 * @param fanInFanOut whether the HF model stores the targets' weights (in, out); peft4j always holds
 *     (out, in), so the flag is kept for the file and changes nothing
 * @param shared the keys every method shares ({@code task_type}, {@code modules_to_save}, ...)
 */
@JsonIgnoreProperties(value = "peft_type", allowGetters = true)
@JsonInclude(JsonInclude.Include.ALWAYS)
public record Ia3Config(
        @JsonProperty("target_modules") TargetModules targetModules,
        @JsonProperty("exclude_modules") @JsonInclude(JsonInclude.Include.NON_NULL) TargetModules excludeModules,
        @JsonProperty("feedforward_modules") TargetModules feedforwardModules,
        @JsonProperty("init_ia3_weights") Boolean initIa3Weights,
        @JsonProperty("fan_in_fan_out") Boolean fanInFanOut,
        @JsonProperty(PeftConfig.SHARED) Shared shared) implements PeftConfig {

    /** HF's {@code peft_type} for IA3. */
    public static final String PEFT_TYPE = "IA3";

    public Ia3Config {
        feedforwardModules = feedforwardModules == null ? new TargetModules.Names(List.of()) : feedforwardModules;
        initIa3Weights = initIa3Weights == null || initIa3Weights;
        fanInFanOut = fanInFanOut != null && fanInFanOut;
        shared = shared == null ? Shared.NONE : shared;
        if (targetModules == null) {
            throw new PeftException("target_modules is required (for BERT, HF uses [\"key\", \"value\", \"output.dense\"] "
                    + "with feedforward_modules [\"output.dense\"])");
        }
        if (targetModules instanceof TargetModules.Names t && feedforwardModules instanceof TargetModules.Names f) {
            List<String> extra = new ArrayList<>(f.names());
            extra.removeAll(t.names());
            if (!extra.isEmpty()) {
                throw new PeftException("feedforward_modules must be a subset of target_modules " + t.names()
                        + "; not targeted: " + extra);
            }
        }
    }

    /** A config with HF's defaults; {@code targetModules} is required. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    @JsonProperty("peft_type")
    public String peftType() {
        return PEFT_TYPE;
    }

    /**
     * What this config targets. HF's IA3 config has no {@code layers_to_transform} or
     * {@code layers_pattern}, so neither is written to its file.
     */
    public TargetSpec targets() {
        return new TargetSpec(targetModules, excludeModules, null, null);
    }

    /** Builder with HF's defaults; {@code targetModules} is required. */
    public static final class Builder {
        private TargetModules target;
        private TargetModules feedforward;
        private boolean init = true;
        private List<String> modulesToSave = List.of();
        private TaskType taskType;

        public Builder targetModules(String... names) {
            this.target = TargetModules.names(names);
            return this;
        }

        public Builder targetModules(TargetModules value) {
            this.target = value;
            return this;
        }

        public Builder feedforwardModules(String... names) {
            this.feedforward = TargetModules.names(names);
            return this;
        }

        public Builder initIa3Weights(boolean value) {
            this.init = value;
            return this;
        }

        public Builder modulesToSave(String... paths) {
            this.modulesToSave = List.of(paths);
            return this;
        }

        public Builder taskType(TaskType value) {
            this.taskType = value;
            return this;
        }

        public Ia3Config build() {
            return new Ia3Config(target, null, feedforward, init, false, Shared.of(taskType, modulesToSave));
        }
    }
}
