package org.peft4j.api.config;

import java.util.Map;

/**
 * The configuration of one adapter, as stored in Hugging Face's {@code adapter_config.json}.
 * Implementations are immutable records whose JSON names are HF's; keys a config class does
 * not know are kept in {@link #extras()} and written back on save, so files from newer HF PEFT
 * versions survive a round trip.
 */
public interface PeftConfig {

    /** HF's {@code peft_type}, in capitals (for example {@code LORA}); never null. */
    String peftType();

    /** HF's {@code task_type}, or null. */
    TaskType taskType();

    /** HF's {@code base_model_name_or_path}, or null. */
    String baseModelNameOrPath();

    /**
     * HF's {@code modules_to_save}: module paths (below the base model) that are trained in full
     * and saved with the adapter, such as a classification head; never null.
     */
    default java.util.List<String> modulesToSave() {
        return java.util.List.of();
    }

    /** Keys this config class does not know, with their JSON values; never null. */
    Map<String, Object> extras();
}
