package com.example.bitfit;

import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.ParameterDict;
import org.peft4j.core.tuner.LinearAdapterLayer;

/** {@code base(x) + shift}, one trainable shift of size out per adapter, kept under {@code bitfit_bias.<adapter>}. */
final class BiasShiftLinear extends LinearAdapterLayer<Void> {

    BiasShiftLinear(Linear base) {
        super(base, "BITFIT");
        register("bitfit_bias", new ParameterDict(base.backend()));
    }

    ParameterDict shifts() {
        return child("bitfit_bias", ParameterDict.class);
    }

    void add(String name) {
        shifts().put(name, new Parameter(backend().zeros(outFeatures())));
        adapters().add(name, null);
    }

    @Override
    public void removeAdapter(String name) {
        shifts().remove(name);
    }

    @Override
    public Tensor forward(Tensor x) {
        Tensor y = baseLayer().forward(x);
        for (String name : adapters().activeUnmerged()) {
            y = y.add(shifts().get(name).value());
        }
        return y;
    }
}
