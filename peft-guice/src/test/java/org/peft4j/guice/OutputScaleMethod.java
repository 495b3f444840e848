package org.peft4j.guice;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Map;
import org.peft4j.api.PeftApi;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;
import org.peft4j.api.nn.ParameterDict;
import org.peft4j.api.tuner.TargetSpec;
import org.peft4j.api.tuner.TunerContext;
import org.peft4j.core.tuner.LayerTuner;
import org.peft4j.core.tuner.LinearAdapterLayer;

/**
 * A method known only to a user's Guice module (no service file anywhere): each target linear
 * layer's output is multiplied by a learned vector, one at start ({@code peft_type} OUTPUT_SCALE).
 */
final class OutputScaleMethod {
    static final String TYPE = "OUTPUT_SCALE";

    private OutputScaleMethod() {
    }

    /** The method's config: the shared keys and the target keys. */
    @JsonIgnoreProperties(value = "peft_type", allowGetters = true)
    public record Config(
            @JsonProperty(TargetSpec.KEYS) TargetSpec targets,
            @JsonProperty(PeftConfig.SHARED) Shared shared) implements PeftConfig {
        public Config {
            if (targets == null) {
                throw new PeftException("target_modules is required");
            }
            shared = shared == null ? Shared.NONE : shared;
        }

        @Override
        @JsonProperty("peft_type")
        public String peftType() {
            return TYPE;
        }
    }

    /** {@code base(x) * scale}, one scale vector of size out per adapter under {@code output_scale.<adapter>}. */
    public static final class Layer extends LinearAdapterLayer<Void> {
        Layer(Linear base) {
            super(base, TYPE);
            register("output_scale", new ParameterDict(base.backend()));
        }

        ParameterDict scales() {
            return child("output_scale", ParameterDict.class);
        }

        @Override
        public void removeAdapter(String name) {
            scales().remove(name);
        }

        @Override
        public Tensor forward(Tensor x) {
            Tensor y = baseLayer().forward(x);
            for (String name : adapters().activeUnmerged()) {
                y = y.mul(scales().get(name).value());
            }
            return y;
        }
    }

    /** The tuner; Guice constructs it. */
    public static class Tuner extends LayerTuner<Config, Layer> {
        public Tuner() {
            super(PeftApi.VERSION, TYPE, Config.class, Layer.class);
        }

        @Override
        protected List<String> targets(Module model, Config config, String adapterName, TunerContext context) {
            return linearTargets(model, config.targets(), false, context);
        }

        @Override
        protected Layer wrap(String path, Module target, Config config, TunerContext context) {
            if (target instanceof Linear plain) {
                return new Layer(plain);
            }
            throw new PeftException(TYPE + " cannot wrap '" + path + "'");
        }

        @Override
        protected Map<String, long[]> layerShapes(String path, Module target, Config config) {
            return Map.of("output_scale", new long[] {((LinearLayer) target).outFeatures()});
        }

        @Override
        protected void addAdapter(String path, Layer layer, String adapterName, Config config, TunerContext context) {
            layer.scales().put(adapterName, new Parameter(context.backend().full(1f, layer.outFeatures())));
            layer.adapters().add(adapterName, null);
        }

        @Override
        protected Map<String, Parameter> layerState(Layer layer, String adapterName) {
            return Map.of("output_scale", layer.scales().get(adapterName));
        }
    }

    /** A second tuner class claiming the same peft_type. */
    public static final class Rival extends Tuner {
    }
}
