package org.peft4j.core.tuner;

import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;

/**
 * The base of layers that wrap one {@link Linear} of the model (LoRA, IA3, ...), laid out as HF
 * PEFT's wrapped layers: the original under {@code base_layer}, the adapters beside it. It keeps
 * the adapter bookkeeping and answers for the wrapped layer's sizes; when the last adapter leaves,
 * the original linear goes back in its place.
 *
 * @param <S> per-adapter settings of the method
 */
public abstract class LinearAdapterLayer<S> extends Module implements LinearLayer, AdapterLayer {
    private final AdapterSet<S> adapters;

    /** @param method the method's name for error messages */
    protected LinearAdapterLayer(Linear base, String method) {
        super(base.backend());
        this.adapters = new AdapterSet<>(method);
        register("base_layer", base);
    }

    @Override
    public final AdapterSet<S> adapters() {
        return adapters;
    }

    @Override
    public final Linear baseLayer() {
        return child("base_layer", Linear.class);
    }

    @Override
    public final Module restore() {
        return baseLayer();
    }

    @Override
    public final long inFeatures() {
        return baseLayer().inFeatures();
    }

    @Override
    public final long outFeatures() {
        return baseLayer().outFeatures();
    }
}
