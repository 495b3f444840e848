package org.peft4j.api.config;

/** HF PEFT's {@code task_type} values. */
public enum TaskType {
    SEQ_CLS,
    SEQ_2_SEQ_LM,
    CAUSAL_LM,
    TOKEN_CLS,
    QUESTION_ANS,
    FEATURE_EXTRACTION
}
