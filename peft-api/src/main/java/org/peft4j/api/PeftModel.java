package org.peft4j.api;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.nn.Init;
import org.peft4j.api.nn.Module;
import org.peft4j.api.registry.PeftRegistry;
import org.peft4j.api.tuner.TargetSelector;
import org.peft4j.api.tuner.Tuner;
import org.peft4j.api.tuner.TunerContext;

/**
 * A base model with PEFT adapters injected, HF PEFT's {@code PeftModel}: the base weights are
 * frozen, each adapter is injected by the tuner its config's {@code peft_type} names, and only
 * adapter parameters (plus {@code modules_to_save}) train. Not thread-safe.
 */
public final class PeftModel {
    private final Module model;
    private final PeftRegistry registry;
    private final TunerContext context;
    private final Map<String, PeftConfig> adapters = new LinkedHashMap<>();

    /**
     * Wraps {@code model}, freezing all its current parameters.
     *
     * @param seed seeds adapter initialisation, so a seed gives the same adapter on every backend
     */
    public PeftModel(Module model, PeftRegistry registry, long seed) {
        this.model = model;
        this.registry = registry;
        this.context = new TunerContext(model.backend(), TargetSelector.standard(), new Init(seed));
        model.setTrainable(false);
    }

    /** The model, with adapters in its module tree. */
    public Module model() {
        return model;
    }

    /** Adapter configs by name, in the order added; unmodifiable. */
    public Map<String, PeftConfig> adapters() {
        return Collections.unmodifiableMap(adapters);
    }

    /** Injects a new adapter called {@code name} as its config says; its parameters are trainable. */
    public void addAdapter(String name, PeftConfig config) {
        if (name == null || name.isEmpty() || name.contains(".")) {
            throw new PeftException("adapter name must be non-empty and without '.', got '" + name + "'");
        }
        if (adapters.containsKey(name)) {
            throw new PeftException("adapter '" + name + "' already exists; adapters: " + adapters.keySet());
        }
        Tuner tuner = registry.tuner(config.peftType());
        tuner.inject(model, config, name, context);
        for (String path : config.modulesToSave()) {
            Module m = model.find(path);
            m.setTrainable(true);
        }
        adapters.put(name, config);
    }

    /** The tuner for adapter {@code name}. */
    public Tuner tuner(String name) {
        return registry.tuner(config(name).peftType());
    }

    /** The config of adapter {@code name}, or an error listing the adapters. */
    public PeftConfig config(String name) {
        PeftConfig c = adapters.get(name);
        if (c == null) {
            throw new PeftException("no adapter '" + name + "'; adapters: " + adapters.keySet());
        }
        return c;
    }

    /** The adapter's tensors under their HF file names ({@code base_model.model.} prefix included). */
    public Map<String, Parameter> adapterState(String name) {
        Map<String, Parameter> out = new LinkedHashMap<>();
        tuner(name).adapterState(model, name).forEach((k, v) -> out.put("base_model.model." + k, v));
        for (String path : config(name).modulesToSave()) {
            model.find(path).namedParameters().forEach((k, v) -> out.put(path + "." + k, v));
        }
        return out;
    }

    /**
     * Adds adapter {@code name} from a loaded adapter folder: injects it as its config says, then
     * sets its tensors. The file must hold exactly the adapter's tensors with matching shapes;
     * every mismatch is checked before any value is set.
     */
    public void loadAdapter(String name, org.peft4j.api.io.AdapterFiles.Loaded loaded) {
        addAdapter(name, loaded.config());
        Map<String, Parameter> state = adapterState(name);
        java.util.Set<String> missing = new java.util.TreeSet<>(state.keySet());
        missing.removeAll(loaded.tensors().keySet());
        java.util.Set<String> unexpected = new java.util.TreeSet<>(loaded.tensors().keySet());
        unexpected.removeAll(state.keySet());
        if (!missing.isEmpty() || !unexpected.isEmpty()) {
            throw new PeftException("adapter file does not fit the model: missing " + missing + ", unexpected "
                    + unexpected);
        }
        state.forEach((key, p) -> {
            long[] want = p.value().shape();
            long[] got = loaded.tensors().get(key).shape();
            if (!java.util.Arrays.equals(want, got)) {
                throw new PeftException("adapter tensor " + key + " has shape " + java.util.Arrays.toString(got)
                        + ", the model needs " + java.util.Arrays.toString(want));
            }
        });
        state.forEach((key, p) -> p.set(loaded.tensors().get(key).to(model.backend())));
    }

    /** Trainable and total parameter counts, as HF's {@code print_trainable_parameters}. */
    public ParameterCount parameterCount() {
        long trainable = 0;
        long total = 0;
        for (Parameter p : model.namedParameters().values()) {
            total += p.numel();
            if (p.trainable()) {
                trainable += p.numel();
            }
        }
        return new ParameterCount(trainable, total);
    }

    /** The trainable parameters, in model order. */
    public List<Parameter> trainableParameters() {
        return List.copyOf(model.trainableParameters().values());
    }

    /** Folds adapter {@code name} into the base weights (where the method allows it). */
    public void merge(String name) {
        tuner(name).merge(model, name);
    }

    /** Undoes {@link #merge}. */
    public void unmerge(String name) {
        tuner(name).unmerge(model, name);
    }

    /**
     * Trainable and total parameter counts.
     *
     * @param trainable elements that train
     * @param total all elements, adapters included
     */
    public record ParameterCount(long trainable, long total) {
        /** Trainable share in percent. */
        public double percent() {
            return total == 0 ? 0 : 100.0 * trainable / total;
        }

        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT, "trainable params: %,d || all params: %,d || trainable%%: %.4f",
                    trainable, total, percent());
        }
    }
}
