package org.peft4j.api.tuner;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import org.peft4j.api.config.TargetModules;

/**
 * Which modules a method targets, as HF PEFT configures it; a config record holds it as one
 * component named {@value #KEYS}, read and written as the top-level keys below.
 *
 * @param targetModules what to target; never null
 * @param excludeModules what to leave out even if targeted, or null
 * @param layersToTransform indices of the layers to keep, or null for all
 * @param layersPattern the name of the layer list (for example {@code layer}), or null to try
 *     the usual ones ({@code layers}, {@code layer}, {@code h}, {@code blocks}, {@code block})
 */
@JsonInclude(JsonInclude.Include.ALWAYS)
public record TargetSpec(
        @JsonProperty("target_modules") TargetModules targetModules,
        @JsonProperty("exclude_modules") @JsonInclude(JsonInclude.Include.NON_NULL) TargetModules excludeModules,
        @JsonProperty("layers_to_transform") List<Integer> layersToTransform,
        @JsonProperty("layers_pattern") String layersPattern) {

    /** The JSON name of a config record's {@code TargetSpec} component: its keys are top-level keys in the file. */
    public static final String KEYS = "$targets";

    public TargetSpec {
        if (targetModules == null) {
            throw new org.peft4j.api.PeftException(
                    "target_modules is required (a list of module names, a regex or \"all-linear\")");
        }
        if (layersToTransform != null) {
            layersToTransform = List.copyOf(layersToTransform);
        }
        if (targetModules instanceof TargetModules.Regex && (layersToTransform != null || layersPattern != null)) {
            throw new org.peft4j.api.PeftException(
                    "layers_to_transform and layers_pattern cannot be used with a regex target_modules ("
                            + targetModules.toJson() + "); put the layer numbers into the regex instead");
        }
    }

    /** Targets the given names (exact or suffix), nothing else set. */
    public static TargetSpec of(String... names) {
        return new TargetSpec(TargetModules.names(names), null, null, null);
    }
}
