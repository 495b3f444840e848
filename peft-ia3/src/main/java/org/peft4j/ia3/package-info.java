/**
 * IA3 (learned rescaling vectors, Liu et al. 2022) as a peft4j tuner plugin, file-compatible with
 * HF PEFT: {@code adapter_config.json} with {@code "peft_type": "IA3"} and HF's keys (see
 * {@link org.peft4j.ia3.Ia3Config}), and {@code adapter_model.safetensors} with one tensor per
 * target, {@code base_model.model.<module path>.ia3_l}, shaped (1, in) for feed-forward modules
 * (the input is scaled) and (out, 1) for the others (the output is scaled), plus the
 * {@code modules_to_save} parameters.
 */
package org.peft4j.ia3;
