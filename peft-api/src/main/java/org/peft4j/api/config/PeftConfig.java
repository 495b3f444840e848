package org.peft4j.api.config;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The configuration of one adapter, as stored in Hugging Face's {@code adapter_config.json}.
 * Implementations are immutable records whose JSON names are HF's. The keys every method shares
 * are declared once, in {@link Shared}: a config record holds them in one component named
 * {@value #SHARED}, and peft-core's JSON layer reads and writes them (and any other component
 * whose JSON name starts with {@code $}, such as {@link org.peft4j.api.tuner.TargetSpec}) as
 * top-level keys, as HF lays the file out. Keys no class knows are kept in {@link Shared#extras()}
 * and written back on save, so files from newer HF PEFT versions survive a round trip.
 */
public interface PeftConfig {
    /** The JSON name of a config record's {@link Shared} component. */
    String SHARED = "$shared";

    /** HF's {@code peft_type}, in capitals (for example {@code LORA}); never null. */
    String peftType();

    /** The keys every method shares; never null. */
    Shared shared();

    /** HF's {@code task_type}, or null. */
    default TaskType taskType() {
        return shared().taskType();
    }

    /** HF's {@code base_model_name_or_path}, or null. */
    default String baseModelNameOrPath() {
        return shared().baseModelNameOrPath();
    }

    /**
     * HF's {@code modules_to_save}: module paths (below the base model) that are trained in full
     * and saved with the adapter, such as a classification head; never null.
     */
    default List<String> modulesToSave() {
        return shared().modulesToSave();
    }

    /** Keys this config class does not know, with their JSON values; never null. */
    default Map<String, Object> extras() {
        return shared().extras();
    }

    /**
     * The keys of {@code adapter_config.json} that do not depend on the method (HF's
     * {@code PeftConfigMixin} and {@code PeftConfig}), plus the keys nobody knows.
     *
     * @param taskType HF's {@code task_type}, or null
     * @param baseModelNameOrPath base model id, or null
     * @param revision base model revision, or null
     * @param inferenceMode HF's {@code inference_mode}; written as true on save
     * @param modulesToSave modules trained in full and saved with the adapter; never null (default empty)
     * @param extras keys no config class knows, with their JSON values; never null, unmodifiable
     */
    @JsonInclude(JsonInclude.Include.ALWAYS)
    record Shared(
            @JsonProperty("task_type") TaskType taskType,
            @JsonProperty("base_model_name_or_path") String baseModelNameOrPath,
            @JsonProperty("revision") String revision,
            @JsonProperty("inference_mode") Boolean inferenceMode,
            @JsonProperty("modules_to_save") List<String> modulesToSave,
            @JsonProperty("$extras") Map<String, Object> extras) {

        /** No task, no modules to save, nothing extra. */
        public static final Shared NONE = new Shared(null, null, null, false, null, null);

        public Shared {
            inferenceMode = inferenceMode != null && inferenceMode;
            modulesToSave = modulesToSave == null ? List.of() : List.copyOf(modulesToSave);
            extras = extras == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(extras));
        }

        /** The keys a config built in code usually sets. */
        public static Shared of(TaskType taskType, List<String> modulesToSave) {
            return new Shared(taskType, null, null, false, modulesToSave, null);
        }
    }
}
