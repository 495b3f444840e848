package org.peft4j.adapter;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.peft4j.api.PeftException;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.config.TaskType;

/**
 * A bottleneck adapter's {@code adapter_config.json} ({@code peft_type} {@value #PEFT_TYPE}).
 * HF PEFT has no bottleneck adapters (its issue #244), so this is peft4j's own layout in the
 * same spirit, with AdapterHub's key names. A {@code config} preset fills every key left out:
 *
 * <table>
 * <caption>presets</caption>
 * <tr><th>key</th><th>{@code pfeiffer} (default)</th><th>{@code houlsby}</th><th>{@code parallel}</th></tr>
 * <tr><td>{@code mh_adapter}</td><td>false</td><td>true</td><td>false</td></tr>
 * <tr><td>{@code output_adapter}</td><td>true</td><td>true</td><td>true</td></tr>
 * <tr><td>{@code reduction_factor}</td><td>16</td><td>16</td><td>2</td></tr>
 * <tr><td>{@code non_linearity}</td><td>relu</td><td>swish</td><td>relu</td></tr>
 * <tr><td>{@code ln_before}</td><td>false</td><td>true</td><td>false</td></tr>
 * <tr><td>{@code scaling}</td><td>1.0</td><td>1.0</td><td>4.0</td></tr>
 * <tr><td>{@code is_parallel}</td><td>false</td><td>false</td><td>true</td></tr>
 * </table>
 *
 * <p>AdapterHub's names {@code seq_bn}, {@code double_seq_bn} and {@code par_bn} are accepted as
 * aliases and written back as {@code pfeiffer}, {@code houlsby} and {@code parallel}.
 * Differences from AdapterHub, forced by where peft4j models let an adapter in (before the
 * residual add and the model's LayerNorm, see {@link org.peft4j.api.nn.InsertionPoint}):
 * {@code original_ln_before} must be false, and the Houlsby preset trains a LayerNorm owned by
 * the adapter ({@code ln_before}) instead of the model's own LayerNorms, so the base model is
 * never changed.
 *
 * @param config preset name: {@code pfeiffer}, {@code houlsby} or {@code parallel}
 * @param mhAdapter insert an adapter after each attention sub-layer
 * @param outputAdapter insert an adapter after each feed-forward sub-layer
 * @param reductionFactor hidden size divided by the bottleneck size (used when
 *     {@code bottleneck_size} is null)
 * @param bottleneckSize explicit bottleneck size m, or null to use {@code reduction_factor}
 * @param nonLinearity activation between the projections: relu, swish (= silu), gelu, tanh or sigmoid
 * @param originalLnBefore AdapterHub's flag; only false is supported
 * @param lnBefore give each adapter its own trainable LayerNorm before the down-projection
 * @param leaveOut layer indices that get no adapter
 * @param scaling factor on the adapter's output
 * @param isParallel put the adapter beside the sub-layer (reading the sub-layer's input) instead of after it
 * @param shared the keys every method shares ({@code task_type}, {@code modules_to_save}, ...)
 */
@JsonIgnoreProperties(value = "peft_type", allowGetters = true)
@JsonInclude(JsonInclude.Include.ALWAYS)
public record BottleneckConfig(
        @JsonProperty("config") String config,
        @JsonProperty("mh_adapter") Boolean mhAdapter,
        @JsonProperty("output_adapter") Boolean outputAdapter,
        @JsonProperty("reduction_factor") Float reductionFactor,
        @JsonProperty("bottleneck_size") Integer bottleneckSize,
        @JsonProperty("non_linearity") String nonLinearity,
        @JsonProperty("original_ln_before") Boolean originalLnBefore,
        @JsonProperty("ln_before") Boolean lnBefore,
        @JsonProperty("leave_out") List<Integer> leaveOut,
        @JsonProperty("scaling") Float scaling,
        @JsonProperty("is_parallel") Boolean isParallel,
        @JsonProperty(PeftConfig.SHARED) Shared shared) implements PeftConfig {

    /** peft4j's {@code peft_type} for bottleneck adapters. */
    public static final String PEFT_TYPE = "BOTTLENECK";
    /** Preset names. */
    public static final String PFEIFFER = "pfeiffer";
    public static final String HOULSBY = "houlsby";
    public static final String PARALLEL = "parallel";
    /** Accepted {@code non_linearity} values. */
    public static final Set<String> NON_LINEARITIES = Set.of("relu", "swish", "silu", "gelu", "tanh", "sigmoid");
    private static final Map<String, String> ALIASES = Map.of(PFEIFFER, PFEIFFER, "seq_bn", PFEIFFER,
            HOULSBY, HOULSBY, "double_seq_bn", HOULSBY, PARALLEL, PARALLEL, "par_bn", PARALLEL);

    public BottleneckConfig {
        String preset = config == null ? PFEIFFER : ALIASES.get(config.toLowerCase(Locale.ROOT));
        if (preset == null) {
            throw new PeftException("config must be one of [pfeiffer, houlsby, parallel] (or AdapterHub's "
                    + "seq_bn, double_seq_bn, par_bn), got '" + config + "'");
        }
        config = preset;
        boolean houlsby = preset.equals(HOULSBY);
        boolean parallel = preset.equals(PARALLEL);
        mhAdapter = mhAdapter == null ? houlsby : mhAdapter;
        outputAdapter = outputAdapter == null ? Boolean.TRUE : outputAdapter;
        reductionFactor = reductionFactor == null ? (parallel ? 2f : 16f) : reductionFactor;
        nonLinearity = nonLinearity == null ? (houlsby ? "swish" : "relu") : nonLinearity.toLowerCase(Locale.ROOT);
        originalLnBefore = originalLnBefore != null && originalLnBefore;
        lnBefore = lnBefore == null ? houlsby : lnBefore;
        leaveOut = leaveOut == null ? List.of() : List.copyOf(leaveOut);
        scaling = scaling == null ? (parallel ? 4f : 1f) : scaling;
        isParallel = isParallel == null ? parallel : isParallel;
        shared = shared == null ? Shared.NONE : shared;
        if (!mhAdapter && !outputAdapter) {
            throw new PeftException("mh_adapter and output_adapter are both false: the adapter would go nowhere; "
                    + "set at least one to true");
        }
        if (!(reductionFactor > 0f) || !Float.isFinite(reductionFactor)) {
            throw new PeftException("reduction_factor must be a positive number, got " + reductionFactor);
        }
        if (bottleneckSize != null && bottleneckSize <= 0) {
            throw new PeftException("bottleneck_size must be a positive integer or null, got " + bottleneckSize);
        }
        if (!NON_LINEARITIES.contains(nonLinearity)) {
            throw new PeftException("non_linearity must be one of " + new java.util.TreeSet<>(NON_LINEARITIES)
                    + ", got '" + nonLinearity + "'");
        }
        if (originalLnBefore) {
            throw new PeftException("original_ln_before=true is not supported: peft4j inserts adapters before the "
                    + "residual add and the model's LayerNorm; set original_ln_before to false");
        }
        if (!Float.isFinite(scaling)) {
            throw new PeftException("scaling must be a finite number, got " + scaling);
        }
        for (Integer i : leaveOut) {
            if (i == null || i < 0) {
                throw new PeftException("leave_out must list non-negative layer indices, got " + leaveOut);
            }
        }
    }

    /** A builder starting from preset {@code config} ({@code pfeiffer}, {@code houlsby} or {@code parallel}). */
    public static Builder builder(String config) {
        return new Builder(config);
    }

    @Override
    @JsonProperty("peft_type")
    public String peftType() {
        return PEFT_TYPE;
    }

    /**
     * The bottleneck size m for a hidden size d: {@code bottleneck_size} when set, else
     * {@code floor(d / reduction_factor)}, at least 1.
     */
    public int bottleneckSize(long hidden) {
        if (bottleneckSize != null) {
            return bottleneckSize;
        }
        return (int) Math.max(1, Math.floor(hidden / reductionFactor));
    }

    /** Builder for a preset; every key not set keeps the preset's value. */
    public static final class Builder {
        private final String config;
        private Boolean mh;
        private Boolean output;
        private Float reduction;
        private Integer size;
        private String act;
        private Boolean lnBefore;
        private List<Integer> leaveOut;
        private Float scaling;
        private Boolean parallel;
        private List<String> modulesToSave = List.of();
        private TaskType taskType;

        private Builder(String config) {
            this.config = config;
        }

        public Builder mhAdapter(boolean value) {
            this.mh = value;
            return this;
        }

        public Builder outputAdapter(boolean value) {
            this.output = value;
            return this;
        }

        public Builder reductionFactor(float value) {
            this.reduction = value;
            return this;
        }

        public Builder bottleneckSize(int value) {
            this.size = value;
            return this;
        }

        public Builder nonLinearity(String value) {
            this.act = value;
            return this;
        }

        public Builder lnBefore(boolean value) {
            this.lnBefore = value;
            return this;
        }

        public Builder leaveOut(Integer... layers) {
            this.leaveOut = List.of(layers);
            return this;
        }

        public Builder scaling(float value) {
            this.scaling = value;
            return this;
        }

        public Builder isParallel(boolean value) {
            this.parallel = value;
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

        public BottleneckConfig build() {
            return new BottleneckConfig(config, mh, output, reduction, size, act, false, lnBefore, leaveOut, scaling,
                    parallel, Shared.of(taskType, modulesToSave));
        }
    }
}
