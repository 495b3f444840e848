package org.peft4j.core.tuner;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.peft4j.api.PeftException;

/**
 * The adapters one injected layer holds, in the order added, with which of them are active and
 * which are merged into the base weights (HF's {@code BaseTunerLayer} bookkeeping). A new adapter
 * is active and unmerged. Each adapter carries the method's own settings {@code S} (its scaling,
 * dropout, ...; may be null).
 *
 * @param <S> per-adapter settings of the method
 */
public final class AdapterSet<S> {
    private final String method;
    private final Map<String, S> settings = new LinkedHashMap<>();
    private final Set<String> active = new LinkedHashSet<>();
    private final Set<String> merged = new LinkedHashSet<>();

    /** @param method the method's name for error messages (for example {@code LoRA}) */
    public AdapterSet(String method) {
        this.method = method;
    }

    /** Adds adapter {@code name}, active and unmerged. */
    public void add(String name, S value) {
        if (settings.containsKey(name)) {
            throw new PeftException("layer already has a " + method + " adapter '" + name + "'");
        }
        settings.put(name, value);
        active.add(name);
    }

    /** Whether this layer holds adapter {@code name}. */
    public boolean contains(String name) {
        return settings.containsKey(name);
    }

    /** The settings of adapter {@code name}, or an error listing the adapters held. */
    public S get(String name) {
        if (!settings.containsKey(name)) {
            throw new PeftException("layer has no " + method + " adapter '" + name + "'; adapters: " + settings.keySet());
        }
        return settings.get(name);
    }

    /** Adapter names in the order added; unmodifiable. */
    public Set<String> names() {
        return Collections.unmodifiableSet(settings.keySet());
    }

    /** Whether no adapter is left. */
    public boolean isEmpty() {
        return settings.isEmpty();
    }

    /** Switches adapter {@code name} on or off. */
    public void setActive(String name, boolean on) {
        mark(active, name, on);
    }

    /** Whether adapter {@code name} is merged into the base weights. */
    public boolean isMerged(String name) {
        return merged.contains(name);
    }

    /** Records that adapter {@code name} is (or is no longer) merged. */
    public void setMerged(String name, boolean on) {
        mark(merged, name, on);
    }

    private void mark(Set<String> set, String name, boolean on) {
        get(name);
        if (on) {
            set.add(name);
        } else {
            set.remove(name);
        }
    }

    /** The adapters a forward pass must apply: active and not merged, in the order added. */
    public List<String> activeUnmerged() {
        List<String> out = new ArrayList<>();
        for (String name : settings.keySet()) {
            if (active.contains(name) && !merged.contains(name)) {
                out.add(name);
            }
        }
        return out;
    }

    /** Forgets adapter {@code name}; returns its settings. */
    public S remove(String name) {
        S s = get(name);
        settings.remove(name);
        active.remove(name);
        merged.remove(name);
        return s;
    }
}
