package com.example.bitfit;

import java.util.LinkedHashSet;
import java.util.Set;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;

/** {@code base(x) + shift}, one trainable shift of size out per adapter, kept under {@code bitfit_bias.<adapter>}. */
final class BiasShiftLinear extends Module implements LinearLayer {
    private final Set<String> active = new LinkedHashSet<>();

    BiasShiftLinear(Linear base) {
        super(base.backend());
        register("base_layer", base);
        register("bitfit_bias", new Shifts(base));
    }

    static final class Shifts extends Module {
        Shifts(Module owner) {
            super(owner.backend());
        }

        void put(String name, Parameter p) {
            register(name, p);
        }

        void remove(String name) {
            unregister(name);
        }
    }

    Shifts shifts() {
        return child("bitfit_bias", Shifts.class);
    }

    void add(String name) {
        shifts().put(name, new Parameter(backend().zeros(outFeatures())));
        active.add(name);
    }

    boolean contains(String name) {
        return shifts().parameters().containsKey(name);
    }

    void setActive(String name, boolean on) {
        if (on) {
            active.add(name);
        } else {
            active.remove(name);
        }
    }

    void remove(String name) {
        shifts().remove(name);
        active.remove(name);
    }

    @Override
    public Tensor forward(Tensor x) {
        Tensor y = baseLayer().forward(x);
        for (String name : active) {
            y = y.add(shifts().parameters().get(name).value());
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
