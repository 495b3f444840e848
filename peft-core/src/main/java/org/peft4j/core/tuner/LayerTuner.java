package org.peft4j.core.tuner;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;
import org.peft4j.api.tuner.TargetSpec;
import org.peft4j.api.tuner.Tuner;
import org.peft4j.api.tuner.TunerContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The base of every method that wraps modules of the model (LoRA, IA3, bottleneck adapters), the
 * twin of HF PEFT's {@code BaseTuner}: it finds the targets, wraps each in the method's
 * {@link AdapterLayer} (or adds to the one already there), and does the switching, deleting
 * (putting the original module back), merging and naming once. A method says only what is its
 * own: which modules it targets, how it wraps one, how it adds an adapter to a layer and how the
 * adapter's tensors are named.
 *
 * <p>Injection checks every target before it changes the model, and takes back what it added
 * when a later target fails, so a config that does not fit leaves the model as it was.
 *
 * @param <C> the method's config
 * @param <L> the method's layer
 */
public abstract class LayerTuner<C extends PeftConfig, L extends Module & AdapterLayer> extends BaseTuner<C> {
    private static final Logger LOG = LoggerFactory.getLogger(LayerTuner.class);
    private final Class<L> layerType;

    /**
     * @param apiVersion pass {@link org.peft4j.api.PeftApi#VERSION} (see {@link BaseTuner})
     * @param peftType HF's {@code peft_type}, in capitals
     * @param configClass the method's config record
     * @param layerType the method's layer class
     */
    protected LayerTuner(String apiVersion, String peftType, Class<C> configClass, Class<L> layerType) {
        super(apiVersion, peftType, configClass);
        this.layerType = layerType;
    }

    /**
     * The linear layers {@code spec} selects, for methods that wrap linear layers. peft4j models
     * hold every linear weight as (out, in), so HF's {@code fan_in_fan_out} (set for GPT-2's
     * Conv1D, stored (in, out)) changes no shape here and is only kept for the file.
     */
    protected static List<String> linearTargets(Module model, TargetSpec spec, boolean fanInFanOut,
            TunerContext context) {
        if (fanInFanOut) {
            LOG.info("fan_in_fan_out=true: peft4j stores every linear weight as (out, in), so the flag changes nothing");
        }
        return context.selector().select(model, spec, m -> m instanceof LinearLayer);
    }

    /** The paths of the modules adapter {@code adapterName} goes into; never empty. */
    protected abstract List<String> targets(Module model, C config, String adapterName, TunerContext context);

    /**
     * A new layer around {@code target}, which holds no adapter of this method yet; not yet in
     * the model. Throws a {@link PeftException} naming the path when the module cannot be wrapped.
     */
    protected abstract L wrap(String path, Module target, C config, TunerContext context);

    /** Fails when {@code layer}, which holds adapters already, cannot take one more with {@code config}. */
    protected void checkCompatible(String path, L layer, C config) {
    }

    /** Adds adapter {@code adapterName} to {@code layer} (its modules, parameters and bookkeeping). */
    protected abstract void addAdapter(String path, L layer, String adapterName, C config, TunerContext context);

    /** The adapter's parameters in {@code layer}, by name below the layer's path (for example {@code lora_A.weight}). */
    protected abstract Map<String, Parameter> layerState(L layer, String adapterName);

    /**
     * The shapes of the tensors {@link #layerState} names for an adapter on {@code target} (the
     * model's module, or this method's layer already there), by the same names; worked out, not made.
     */
    protected abstract Map<String, long[]> layerShapes(String path, Module target, C config);

    @Override
    public Map<String, long[]> savedShapes(Module model, C config, TunerContext context) {
        Map<String, long[]> out = new LinkedHashMap<>();
        for (String path : targets(model, config, "(checked)", context)) {
            layerShapes(path, model.find(path), config).forEach((name, shape) -> out.put(path + "." + name, shape));
        }
        return out;
    }

    /** Why this method cannot merge, for the error message; null when it can ({@link #canMerge()}). */
    protected String whyNotMergeable() {
        return canMerge() ? null : "it has no merged form";
    }

    /** Called after every target took the adapter, for model-wide changes (LoRA's {@code bias: all}). */
    protected void afterInject(Module model, C config, String adapterName) {
    }

    @Override
    public final void inject(Module model, C config, String adapterName, TunerContext context) {
        List<String> paths = targets(model, config, adapterName, context);
        Map<String, L> layers = new LinkedHashMap<>();
        for (String path : paths) {
            Module target = model.find(path);
            if (layerType.isInstance(target)) {
                L layer = layerType.cast(target);
                if (layer.adapters().contains(adapterName)) {
                    throw new PeftException("module '" + path + "' already has a " + peftType() + " adapter '"
                            + adapterName + "'");
                }
                checkCompatible(path, layer, config);
                layers.put(path, layer);
            } else {
                layers.put(path, wrap(path, target, config, context));
            }
        }
        List<String> done = new ArrayList<>();
        try {
            for (Map.Entry<String, L> e : layers.entrySet()) {
                if (model.find(e.getKey()) != e.getValue()) {
                    model.replace(e.getKey(), e.getValue());
                }
                done.add(e.getKey());
                addAdapter(e.getKey(), e.getValue(), adapterName, config, context);
            }
            afterInject(model, config, adapterName);
        } catch (RuntimeException e) {
            for (String path : done) {
                L layer = layers.get(path);
                if (layer.adapters().contains(adapterName)) {
                    remove(model, path, layer, adapterName);
                } else if (layer.adapters().isEmpty()) {
                    model.replace(path, layer.restore());
                }
            }
            throw e;
        }
        LOG.debug("{} adapter '{}' injected into {} modules", peftType(), adapterName, layers.size());
    }

    /** The layers holding adapter {@code adapterName}, by path in model order; empty when none does. */
    protected final Map<String, L> layers(Module model, String adapterName) {
        Map<String, L> out = new LinkedHashMap<>();
        model.namedModules().forEach((path, m) -> {
            if (layerType.isInstance(m) && layerType.cast(m).adapters().contains(adapterName)) {
                out.put(path, layerType.cast(m));
            }
        });
        return out;
    }

    private Map<String, L> require(Module model, String adapterName, String what) {
        Map<String, L> layers = layers(model, adapterName);
        if (layers.isEmpty()) {
            throw new PeftException("cannot " + what + ": the model has no " + peftType() + " adapter '" + adapterName + "'");
        }
        return layers;
    }

    @Override
    public Map<String, Parameter> adapterState(Module model, String adapterName) {
        Map<String, Parameter> out = new LinkedHashMap<>();
        require(model, adapterName, "name the tensors").forEach((path, layer) ->
                layerState(layer, adapterName).forEach((name, p) -> out.put(path + "." + name, p)));
        return out;
    }

    @Override
    public final void setActive(Module model, String adapterName, boolean active) {
        require(model, adapterName, "switch").values().forEach(l -> l.adapters().setActive(adapterName, active));
    }

    @Override
    public final void delete(Module model, String adapterName) {
        require(model, adapterName, "delete").forEach((path, layer) -> remove(model, path, layer, adapterName));
    }

    private void remove(Module model, String path, L layer, String adapterName) {
        layer.removeAdapter(adapterName);
        layer.adapters().remove(adapterName);
        if (layer.adapters().isEmpty()) {
            model.replace(path, layer.restore());
        }
    }

    @Override
    public final void merge(Module model, String adapterName) {
        if (!canMerge()) {
            throw new PeftException(peftType() + " adapters cannot be merged into the base weights (adapter '"
                    + adapterName + "'): " + whyNotMergeable());
        }
        Map<String, L> layers = require(model, adapterName, "merge");
        if (layers.values().iterator().next().adapters().isMerged(adapterName)) {
            LOG.warn("{} adapter '{}' is already merged; merging again changes nothing", peftType(), adapterName);
            return;
        }
        layers.values().forEach(l -> l.checkMergeable(adapterName)); // all first: a refusal changes no weight
        for (L layer : layers.values()) {
            layer.merge(adapterName);
            layer.adapters().setMerged(adapterName, true);
        }
    }

    @Override
    public final void unmerge(Module model, String adapterName) {
        if (!canMerge()) {
            throw new PeftException(peftType() + " adapters are never merged, so there is nothing to unmerge (adapter '"
                    + adapterName + "')");
        }
        Map<String, L> layers = require(model, adapterName, "unmerge");
        for (L layer : layers.values()) {
            if (layer.adapters().isMerged(adapterName)) {
                layer.unmerge(adapterName);
                layer.adapters().setMerged(adapterName, false);
            }
        }
    }
}
