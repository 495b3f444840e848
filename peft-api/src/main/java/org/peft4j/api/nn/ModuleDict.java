package org.peft4j.api.nn;

import org.peft4j.api.backend.Backend;

/**
 * A named collection of modules, PyTorch's {@code ModuleDict}: methods keep one entry per
 * adapter name, so parameter paths read {@code ...lora_A.<adapter>.weight} as in HF PEFT.
 */
public final class ModuleDict extends Module {

    public ModuleDict(Backend backend) {
        super(backend);
    }

    /** Adds {@code module} under {@code key}; the key must be new. */
    public <M extends Module> M put(String key, M module) {
        return register(key, module);
    }

    /** Whether {@code key} is present. */
    public boolean contains(String key) {
        return children().containsKey(key);
    }

    /** Removes the entry {@code key}; returns it, or null when absent. */
    public Module remove(String key) {
        return removeChild(key);
    }

    /** The keys, in insertion order; unmodifiable. */
    public java.util.Set<String> keys() {
        return children().keySet();
    }
}
