package org.peft4j.lora;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.peft4j.api.PeftApi;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.nn.Init;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;
import org.peft4j.api.tuner.TunerContext;
import org.peft4j.core.tuner.LayerTuner;

/** The LoRA method ({@code peft_type} {@value LoraConfig#PEFT_TYPE}): wraps target linear layers in {@link LoraLinear}. */
public final class LoraTuner extends LayerTuner<LoraConfig, LoraLinear> {

    public LoraTuner() {
        super(PeftApi.VERSION, LoraConfig.PEFT_TYPE, LoraConfig.class, LoraLinear.class);
    }

    @Override
    protected List<String> targets(Module model, LoraConfig cfg, String adapterName, TunerContext context) {
        return linearTargets(model, cfg.targets(), cfg.fanInFanOut(), context);
    }

    @Override
    protected LoraLinear wrap(String path, Module target, LoraConfig cfg, TunerContext context) {
        if (target instanceof Linear plain) {
            return new LoraLinear(plain);
        }
        throw new PeftException("module '" + path + "' is a " + target.getClass().getSimpleName()
                + ", which LoRA cannot wrap; target plain linear layers");
    }

    @Override
    protected Map<String, long[]> layerShapes(String path, Module target, LoraConfig cfg) {
        LinearLayer linear = (LinearLayer) target;
        int r = patternValue(cfg.rankPattern(), path, cfg.r());
        Map<String, long[]> out = new LinkedHashMap<>();
        out.put("lora_A.weight", new long[] {r, linear.inFeatures()});
        out.put("lora_B.weight", new long[] {linear.outFeatures(), r});
        if (cfg.useDora()) {
            out.put("lora_magnitude_vector", new long[] {linear.outFeatures()});
        }
        Parameter bias = linear.baseLayer().bias();
        if (cfg.bias().equals("lora_only") && bias != null) {
            out.put("base_layer.bias", bias.value().shape());
        }
        return out;
    }

    /** With {@code bias: all}, every bias of the model too, named as it will be once the targets are wrapped. */
    @Override
    public Map<String, long[]> savedShapes(Module model, LoraConfig cfg, TunerContext context) {
        Map<String, long[]> out = super.savedShapes(model, cfg, context);
        if (cfg.bias().equals("all")) {
            allBiases(model).forEach((name, p) -> {
                String owner = name.equals("bias") ? "" : name.substring(0, name.length() - ".bias".length());
                boolean wrapped = out.containsKey(owner + ".lora_A.weight") && !(model.find(owner) instanceof LoraLinear);
                out.put(wrapped ? owner + ".base_layer.bias" : name, p.value().shape());
            });
        }
        return out;
    }

    @Override
    public String sizeKeys(LoraConfig cfg) {
        return "r=" + cfg.r() + (cfg.rankPattern().isEmpty() ? "" : ", rank_pattern=" + cfg.rankPattern());
    }

    @Override
    protected void addAdapter(String path, LoraLinear lora, String adapterName, LoraConfig cfg, TunerContext context) {
        int r = patternValue(cfg.rankPattern(), path, cfg.r());
        float alpha = patternValue(cfg.alphaPattern(), path, cfg.loraAlpha());
        float scale = cfg.useRslora() ? (float) (alpha / Math.sqrt(r)) : alpha / r;
        Backend backend = context.backend();
        Init init = context.init();
        long in = lora.inFeatures();
        long out = lora.outFeatures();
        Linear a = new Linear(backend, switch (cfg.initLoraWeights()) {
            case GAUSSIAN -> init.normal(backend, 0f, 1f / r, r, in);
            case DEFAULT, RANDOM -> init.kaimingUniform(backend, r, in);
        }, null);
        Linear b = new Linear(backend, cfg.initLoraWeights() == LoraConfig.InitLoraWeights.RANDOM
                ? init.kaimingUniform(backend, out, r)
                : backend.zeros(out, r), null);
        lora.addAdapter(adapterName, a, b, new LoraLinear.Settings(scale, cfg.loraDropout(), cfg.bias()), cfg.useDora());
        Parameter bias = lora.baseLayer().bias();
        if (bias != null && !cfg.bias().equals("none")) {
            bias.setTrainable(true);
        }
    }

    @Override
    protected void afterInject(Module model, LoraConfig cfg, String adapterName) {
        if (cfg.bias().equals("all")) {
            allBiases(model).values().forEach(p -> p.setTrainable(true));
        }
    }

    private static Map<String, Parameter> allBiases(Module model) {
        Map<String, Parameter> out = new LinkedHashMap<>();
        model.namedParameters().forEach((name, p) -> {
            if (name.equals("bias") || name.endsWith(".bias")) {
                out.put(name, p);
            }
        });
        return out;
    }

    private static <T> T patternValue(Map<String, T> patterns, String path, T fallback) {
        for (Map.Entry<String, T> e : patterns.entrySet()) {
            if (Pattern.compile("(.*\\.)?(" + e.getKey() + ")$").matcher(path).matches()) {
                return e.getValue();
            }
        }
        return fallback;
    }

    @Override
    protected Map<String, Parameter> layerState(LoraLinear lora, String adapterName) {
        Map<String, Parameter> out = new LinkedHashMap<>();
        out.put("lora_A.weight", lora.loraA().child(adapterName, Linear.class).weight());
        out.put("lora_B.weight", lora.loraB().child(adapterName, Linear.class).weight());
        if (lora.isDora(adapterName)) {
            // HF saves the magnitude without the ".weight" suffix
            out.put("lora_magnitude_vector", lora.magnitude(adapterName));
        }
        Parameter b = lora.baseLayer().bias();
        if (lora.adapters().get(adapterName).bias().equals("lora_only") && b != null) {
            out.put("base_layer.bias", b);
        }
        return out;
    }

    /** LoRA's A and B per layer; with {@code bias} lora_only also the wrapped layers' biases, with all every bias. */
    @Override
    public Map<String, Parameter> adapterState(Module model, String adapterName) {
        Map<String, Parameter> out = super.adapterState(model, adapterName);
        LoraLinear first = layers(model, adapterName).values().iterator().next();
        if (first.adapters().get(adapterName).bias().equals("all")) {
            out.putAll(allBiases(model));
        }
        return out;
    }

    @Override
    public boolean supportsMixedBatches() {
        return true;
    }

    @Override
    public boolean canMerge() {
        return true;
    }
}
