package com.example.bitfit;

import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;
import org.peft4j.api.nn.ParameterDict;
import org.peft4j.core.tuner.AdapterLayer;
import org.peft4j.core.tuner.AdapterSet;

/** {@code base(x) + shift}, one trainable shift of size out per adapter, kept under {@code bitfit_bias.<adapter>}. */
final class BiasShiftLinear extends Module implements LinearLayer, AdapterLayer {
    private final AdapterSet<Void> adapters = new AdapterSet<>("BITFIT");

    BiasShiftLinear(Linear base) {
        super(base.backend());
        register("base_layer", base);
        register("bitfit_bias", new ParameterDict(base.backend()));
    }

    ParameterDict shifts() {
        return child("bitfit_bias", ParameterDict.class);
    }

    void add(String name) {
        shifts().put(name, new Parameter(backend().zeros(outFeatures())));
        adapters.add(name, null);
    }

    @Override
    public AdapterSet<Void> adapters() {
        return adapters;
    }

    @Override
    public void removeAdapter(String name) {
        shifts().remove(name);
    }

    @Override
    public Module restore() {
        return baseLayer();
    }

    @Override
    public Tensor forward(Tensor x) {
        Tensor y = baseLayer().forward(x);
        for (String name : adapters.activeUnmerged()) {
            y = y.add(shifts().get(name).value());
        }
        return y;
    }

    @Override
    public Linear baseLayer() {
        return child("base_layer", Linear.class);
    }

    @Override
    public long inFeatures() {
        return baseLayer().inFeatures();
    }

    @Override
    public long outFeatures() {
        return baseLayer().outFeatures();
    }
}
