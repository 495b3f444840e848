package org.peft4j.core;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.nn.Module;
import org.peft4j.api.tuner.TargetSelector;
import org.peft4j.api.tuner.Tuner;
import org.peft4j.core.io.AdapterFiles;

/**
 * Makes {@link PeftModel}s from one set of collaborators: the {@link Backend} models live on, the
 * {@link TargetSelector} that resolves {@code target_modules}, and the tuners by
 * {@code peft_type}. peft-guice's {@code PeftModule} provides one from its bindings, so a tuner
 * or selector bound in Guice is the one every model uses; code without Guice gets one from
 * {@link Peft#factory(Backend)}. Immutable and thread-safe; the backend stays the caller's to close.
 */
public final class PeftModelFactory {
    private final Backend backend;
    private final TargetSelector selector;
    private final PeftRegistry registry;
    private final long adapterBudget;

    /**
     * @param backend where models and adapters live
     * @param selector resolves configs' targets to module paths
     * @param tuners the methods adapters may use, keyed by their {@code peft_type}
     */
    public PeftModelFactory(Backend backend, TargetSelector selector, Map<String, ? extends Tuner<?>> tuners) {
        this(backend, selector, PeftRegistry.of(tuners, List.of()), 0);
    }

    private PeftModelFactory(Backend backend, TargetSelector selector, PeftRegistry registry, long adapterBudget) {
        this.backend = backend;
        this.selector = selector;
        this.registry = registry;
        this.adapterBudget = adapterBudget;
    }

    /**
     * This factory, with models that refuse any adapter of more than {@code maxElements} elements
     * (see {@link PeftModel#setAdapterBudget}; the default is each base model's own size).
     */
    public PeftModelFactory withAdapterBudget(long maxElements) {
        if (maxElements <= 0) {
            throw new PeftException("the adapter budget must be a positive number of elements, got " + maxElements);
        }
        return new PeftModelFactory(backend, selector, registry, maxElements);
    }

    /** The backend models are made on; never null. */
    public Backend backend() {
        return backend;
    }

    /** The target selector every model uses; never null. */
    public TargetSelector selector() {
        return selector;
    }

    /** The tuners by {@code peft_type}, as a registry; never null. */
    public PeftRegistry registry() {
        return registry;
    }

    /** Wraps {@code model} (built on {@link #backend()}), freezing its parameters; {@code seed} seeds adapter init. */
    public PeftModel create(Module model, long seed) {
        return create(model, seed, null);
    }

    /**
     * Wraps {@code model} with its tokenizer, which methods initialised from text use.
     *
     * @param tokenizer text to token ids, special tokens included; may be null
     */
    public PeftModel create(Module model, long seed, Function<String, long[]> tokenizer) {
        if (model.backend() != backend) {
            throw new PeftException("the model lives on backend " + model.backend().name() + " ("
                    + model.backend() + "), not on this factory's " + backend.name() + "; build it with factory.backend()");
        }
        PeftModel peft = new PeftModel(model, registry, selector, seed, tokenizer);
        if (adapterBudget > 0) {
            peft.setAdapterBudget(adapterBudget);
        }
        return peft;
    }

    /** Reads an {@code adapter_config.json} text into the config class its {@code peft_type} names. */
    public PeftConfig parseConfig(String json) {
        return registry.parseConfig(json);
    }

    /** Reads an adapter folder (config and tensors, checked) for {@link PeftModel#loadAdapter(String, AdapterFiles.Loaded)}. */
    public AdapterFiles.Loaded readAdapter(Path dir) {
        return AdapterFiles.load(dir, registry);
    }
}
