package com.example.bitfit;

import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;
import org.peft4j.api.tuner.TargetSpec;
import org.peft4j.api.tuner.Tuner;
import org.peft4j.api.tuner.TunerContext;

/**
 * A third-party method in the spirit of BitFit: each target linear layer learns an additive bias
 * shift (zero at start), saved as {@code <path>.bitfit_bias}. Registered through this module's
 * own {@code META-INF/services/org.peft4j.api.tuner.Tuner}; peft4j's code is not touched.
 */
public final class BitFitTuner implements Tuner {

    @Override
    public String peftType() {
        return BitFitConfig.PEFT_TYPE;
    }

    @Override
    public Class<? extends PeftConfig> configClass() {
        return BitFitConfig.class;
    }

    @Override
    public void inject(Module model, PeftConfig config, String adapterName, TunerContext context) {
        BitFitConfig cfg = (BitFitConfig) config;
        TargetSpec spec = new TargetSpec(cfg.targetModules(), null, null, null);
        for (String path : context.selector().select(model, spec, m -> m instanceof LinearLayer)) {
            Module m = model.find(path);
            BiasShiftLinear layer;
            if (m instanceof BiasShiftLinear existing) {
                layer = existing;
            } else if (m instanceof Linear plain) {
                layer = new BiasShiftLinear(plain);
                model.replace(path, layer);
            } else {
                throw new PeftException("BITFIT cannot wrap '" + path + "', a " + m.getClass().getSimpleName());
            }
            layer.add(adapterName);
        }
    }

    private static Map<String, BiasShiftLinear> layers(Module model, String adapterName) {
        Map<String, BiasShiftLinear> out = new LinkedHashMap<>();
        model.namedModules().forEach((path, m) -> {
            if (m instanceof BiasShiftLinear l && l.contains(adapterName)) {
                out.put(path, l);
            }
        });
        if (out.isEmpty()) {
            throw new PeftException("the model has no BITFIT adapter '" + adapterName + "'");
        }
        return out;
    }

    @Override
    public Map<String, Parameter> adapterState(Module model, String adapterName) {
        Map<String, Parameter> out = new LinkedHashMap<>();
        layers(model, adapterName).forEach((path, l) ->
                out.put(path + ".bitfit_bias", l.shifts().parameters().get(adapterName)));
        return out;
    }

    @Override
    public void setActive(Module model, String adapterName, boolean active) {
        layers(model, adapterName).values().forEach(l -> l.setActive(adapterName, active));
    }

    @Override
    public void delete(Module model, String adapterName) {
        layers(model, adapterName).forEach((path, l) -> {
            l.remove(adapterName);
            if (l.shifts().parameters().isEmpty()) {
                model.replace(path, l.baseLayer());
            }
        });
    }
}
