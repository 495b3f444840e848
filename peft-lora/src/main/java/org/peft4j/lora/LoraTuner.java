package org.peft4j.lora;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.nn.Init;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;
import org.peft4j.api.tuner.Tuner;
import org.peft4j.api.tuner.TunerContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The LoRA method ({@code peft_type} {@value LoraConfig#PEFT_TYPE}): wraps target linear layers in {@link LoraLinear}. */
public final class LoraTuner implements Tuner {
    private static final Logger LOG = LoggerFactory.getLogger(LoraTuner.class);

    @Override
    public String peftType() {
        return LoraConfig.PEFT_TYPE;
    }

    @Override
    public Class<? extends PeftConfig> configClass() {
        return LoraConfig.class;
    }

    @Override
    public void inject(Module model, PeftConfig config, String adapterName, TunerContext context) {
        if (!(config instanceof LoraConfig cfg)) {
            throw new PeftException("LoRA needs a LoraConfig, got " + config.getClass().getSimpleName());
        }
        if (cfg.fanInFanOut()) {
            // HF sets it for layers stored (in, out), as GPT-2's Conv1D; peft4j models load every
            // linear layer as (out, in), so lora_A and lora_B keep their shapes and nothing changes.
            LOG.info("fan_in_fan_out=true: peft4j stores every linear weight as (out, in), so the flag changes nothing");
        }
        List<String> targets = context.selector().select(model, cfg.targetSpec(), m -> m instanceof LinearLayer);
        Backend backend = context.backend();
        Init init = context.init();
        for (String path : targets) {
            Module target = model.find(path);
            LoraLinear lora;
            if (target instanceof LoraLinear existing) {
                lora = existing;
            } else if (target instanceof Linear plain) {
                lora = new LoraLinear(plain);
                model.replace(path, lora);
            } else {
                throw new PeftException("module '" + path + "' is a " + target.getClass().getSimpleName()
                        + ", which LoRA cannot wrap; target plain linear layers");
            }
            int r = patternValue(cfg.rankPattern(), path, cfg.r());
            float alpha = patternValue(cfg.alphaPattern(), path, cfg.loraAlpha());
            float scale = cfg.useRslora() ? (float) (alpha / Math.sqrt(r)) : alpha / r;
            long in = lora.inFeatures();
            long out = lora.outFeatures();
            Linear a = new Linear(backend, switch (cfg.initLoraWeights()) {
                case GAUSSIAN -> init.normal(backend, 0f, 1f / r, r, in);
                case DEFAULT, RANDOM -> init.kaimingUniform(backend, r, in);
            }, null);
            Linear b = new Linear(backend, cfg.initLoraWeights() == LoraConfig.InitLoraWeights.RANDOM
                    ? init.kaimingUniform(backend, out, r)
                    : backend.zeros(out, r), null);
            lora.addAdapter(adapterName, a, b, scale, cfg.loraDropout(), cfg.bias(), cfg.useDora());
            Parameter bias = lora.baseLayer().bias();
            if (bias != null && !cfg.bias().equals("none")) {
                bias.setTrainable(true);
            }
        }
        if (cfg.bias().equals("all")) {
            model.namedParameters().forEach((name, p) -> {
                if (name.equals("bias") || name.endsWith(".bias")) {
                    p.setTrainable(true);
                }
            });
        }
        LOG.debug("LoRA adapter '{}' injected into {} modules", adapterName, targets.size());
    }

    private static <T> T patternValue(Map<String, T> patterns, String path, T fallback) {
        for (Map.Entry<String, T> e : patterns.entrySet()) {
            if (Pattern.compile("(.*\\.)?(" + e.getKey() + ")$").matcher(path).matches()) {
                return e.getValue();
            }
        }
        return fallback;
    }

    /** LoRA's A and B per layer; with {@code bias} lora_only also the wrapped layers' biases, with all every bias. */
    @Override
    public Map<String, Parameter> adapterState(Module model, String adapterName) {
        Map<String, LoraLinear> layers = layersWith(model, adapterName);
        if (layers.isEmpty()) {
            throw new PeftException("the model has no LoRA adapter '" + adapterName + "'");
        }
        Map<String, Parameter> out = new LinkedHashMap<>();
        String bias = layers.values().iterator().next().biasMode(adapterName);
        layers.forEach((path, lora) -> {
            out.put(path + ".lora_A.weight", lora.loraA().child(adapterName, Linear.class).weight());
            out.put(path + ".lora_B.weight", lora.loraB().child(adapterName, Linear.class).weight());
            if (lora.isDora(adapterName)) {
                // HF saves the magnitude without the ".weight" suffix
                out.put(path + ".lora_magnitude_vector", lora.magnitude(adapterName));
            }
            Parameter b = lora.baseLayer().bias();
            if (bias.equals("lora_only") && b != null) {
                out.put(path + ".base_layer.bias", b);
            }
        });
        if (bias.equals("all")) {
            model.namedParameters().forEach((name, p) -> {
                if (name.equals("bias") || name.endsWith(".bias")) {
                    out.put(name, p);
                }
            });
        }
        return out;
    }

    @Override
    public void setActive(Module model, String adapterName, boolean active) {
        forEachLayer(model, adapterName, "switch", l -> l.setActive(adapterName, active));
    }

    @Override
    public void delete(Module model, String adapterName) {
        Map<String, LoraLinear> layers = layersWith(model, adapterName);
        if (layers.isEmpty()) {
            throw new PeftException("cannot delete: the model has no LoRA adapter '" + adapterName + "'");
        }
        layers.forEach((path, lora) -> {
            lora.remove(adapterName);
            if (!lora.hasAdapters()) {
                model.replace(path, lora.baseLayer());
            }
        });
    }

    private static Map<String, LoraLinear> layersWith(Module model, String adapterName) {
        Map<String, LoraLinear> out = new LinkedHashMap<>();
        model.namedModules().forEach((path, m) -> {
            if (m instanceof LoraLinear lora && lora.loraA().contains(adapterName)) {
                out.put(path, lora);
            }
        });
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

    @Override
    public void merge(Module model, String adapterName) {
        forEachLayer(model, adapterName, "merge", l -> l.merge(adapterName));
    }

    @Override
    public void unmerge(Module model, String adapterName) {
        forEachLayer(model, adapterName, "unmerge", l -> l.unmerge(adapterName));
    }

    private static void forEachLayer(Module model, String adapterName, String what,
            java.util.function.Consumer<LoraLinear> action) {
        int n = 0;
        for (Module m : model.namedModules().values()) {
            if (m instanceof LoraLinear lora && lora.loraA().contains(adapterName)) {
                if (what.equals("merge") && lora.isMerged(adapterName)) {
                    LOG.warn("LoRA adapter '{}' is already merged; merging again changes nothing", adapterName);
                    return;
                }
                action.accept(lora);
                n++;
            }
        }
        if (n == 0) {
            throw new PeftException("cannot " + what + ": the model has no LoRA adapter '" + adapterName + "'");
        }
    }
}
