package org.peft4j.api.backend;

/** Element types a {@link Tensor} can hold. Models compute in FLOAT32; ids and labels are INT64. */
public enum DType {
    FLOAT32,
    INT64
}
