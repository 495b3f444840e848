package com.example.bitfit;

import java.util.List;
import java.util.Map;
import org.peft4j.api.PeftApi;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;
import org.peft4j.api.tuner.TunerContext;
import org.peft4j.core.tuner.LayerTuner;

/**
 * A third-party method in the spirit of BitFit: each target linear layer learns an additive bias
 * shift (zero at start), saved as {@code <path>.bitfit_bias}. Registered through this module's
 * own {@code META-INF/services/org.peft4j.api.tuner.Tuner}; peft4j's code is not touched.
 * peft-core's {@link LayerTuner} does the finding, wrapping, switching and deleting.
 */
public final class BitFitTuner extends LayerTuner<BitFitConfig, BiasShiftLinear> {

    public BitFitTuner() {
        super(PeftApi.VERSION, BitFitConfig.PEFT_TYPE, BitFitConfig.class, BiasShiftLinear.class);
    }

    @Override
    protected List<String> targets(Module model, BitFitConfig config, String adapterName, TunerContext context) {
        return linearTargets(model, config.targets(), false, context);
    }

    @Override
    protected BiasShiftLinear wrap(String path, Module target, BitFitConfig config, TunerContext context) {
        if (target instanceof Linear plain) {
            return new BiasShiftLinear(plain);
        }
        throw new PeftException("BITFIT cannot wrap '" + path + "', a " + target.getClass().getSimpleName());
    }

    @Override
    protected Map<String, long[]> layerShapes(String path, Module target, BitFitConfig config) {
        return Map.of("bitfit_bias", new long[] {((LinearLayer) target).outFeatures()});
    }

    @Override
    protected void addAdapter(String path, BiasShiftLinear layer, String adapterName, BitFitConfig config,
            TunerContext context) {
        layer.add(adapterName);
    }

    @Override
    protected Map<String, Parameter> layerState(BiasShiftLinear layer, String adapterName) {
        return Map.of("bitfit_bias", layer.shifts().get(adapterName));
    }
}
