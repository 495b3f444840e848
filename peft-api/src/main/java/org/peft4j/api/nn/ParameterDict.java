package org.peft4j.api.nn;

import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;

/**
 * A named collection of parameters, PyTorch's {@code ParameterDict}: methods whose adapter is one
 * tensor per layer keep one entry per adapter name, so parameter paths read
 * {@code ...ia3_l.<adapter>} as in HF PEFT.
 */
public final class ParameterDict extends Module {

    public ParameterDict(Backend backend) {
        super(backend);
    }

    /** Adds {@code parameter} under {@code key}; the key must be new. */
    public Parameter put(String key, Parameter parameter) {
        return register(key, parameter);
    }

    /** The entry {@code key}, or an error listing the keys. */
    public Parameter get(String key) {
        Parameter p = parameters().get(key);
        if (p == null) {
            throw new PeftException("no parameter '" + key + "'; keys: " + parameters().keySet());
        }
        return p;
    }

    /** Removes the entry {@code key}; returns it, or null when absent. */
    public Parameter remove(String key) {
        return unregister(key);
    }
}
