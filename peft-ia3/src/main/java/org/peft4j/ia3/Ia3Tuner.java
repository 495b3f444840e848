package org.peft4j.ia3;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.config.TargetModules;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;
import org.peft4j.api.tuner.Tuner;
import org.peft4j.api.tuner.TunerContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The IA3 method ({@code peft_type} {@value Ia3Config#PEFT_TYPE}): wraps target linear layers in
 * {@link Ia3Linear}. A target is feed-forward when {@code feedforward_modules} matches its path
 * (exact name, {@code .name} suffix, or a full-match regex), as in HF PEFT. File names below
 * {@code base_model.model.}: {@code <module path>.ia3_l}, shaped (1, in) for feed-forward modules
 * and (out, 1) for the others, as HF PEFT saves them (a parameter, so no {@code .weight}).
 */
public final class Ia3Tuner implements Tuner {
    private static final Logger LOG = LoggerFactory.getLogger(Ia3Tuner.class);

    @Override
    public String peftType() {
        return Ia3Config.PEFT_TYPE;
    }

    @Override
    public Class<? extends PeftConfig> configClass() {
        return Ia3Config.class;
    }

    @Override
    public void inject(Module model, PeftConfig config, String adapterName, TunerContext context) {
        if (!(config instanceof Ia3Config cfg)) {
            throw new PeftException("IA3 needs an Ia3Config, got " + config.getClass().getSimpleName());
        }
        if (cfg.fanInFanOut()) {
            // HF sets it for layers stored (in, out), as GPT-2's Conv1D; peft4j models load every linear
            // layer as (out, in), and ia3_l's shape depends only on in and out, so nothing changes
            LOG.info("fan_in_fan_out=true: peft4j stores every linear weight as (out, in), so the flag changes nothing");
        }
        List<String> targets = context.selector().select(model, cfg.targetSpec(), m -> m instanceof LinearLayer);
        Backend backend = context.backend();
        for (String path : targets) {
            Module target = model.find(path);
            boolean feedforward = matches(cfg.feedforwardModules(), path);
            Ia3Linear ia3;
            if (target instanceof Ia3Linear existing) {
                if (existing.isFeedforward() != feedforward) {
                    throw new PeftException("module '" + path + "' already has IA3 adapters that scale its "
                            + (existing.isFeedforward() ? "input" : "output")
                            + "; a second adapter must use the same feedforward_modules for it");
                }
                ia3 = existing;
            } else if (target instanceof Linear plain) {
                ia3 = new Ia3Linear(plain, feedforward);
                model.replace(path, ia3);
            } else {
                throw new PeftException("module '" + path + "' is a " + target.getClass().getSimpleName()
                        + ", which IA3 cannot wrap; target plain linear layers");
            }
            long[] shape = ia3.vectorShape();
            ia3.addAdapter(adapterName, cfg.initIa3Weights() ? backend.full(1f, shape)
                    : context.init().normal(backend, 0f, 1f, shape));
        }
        LOG.debug("IA3 adapter '{}' injected into {} modules", adapterName, targets.size());
    }

    static boolean matches(TargetModules rule, String path) {
        if (rule instanceof TargetModules.Names n) {
            return n.names().stream().anyMatch(name -> path.equals(name) || path.endsWith("." + name));
        }
        if (rule instanceof TargetModules.Regex r) {
            return Pattern.compile(r.pattern()).matcher(path).matches();
        }
        throw new PeftException("feedforward_modules must be a list of names or a regex, got " + rule.toJson());
    }

    @Override
    public Map<String, Parameter> adapterState(Module model, String adapterName) {
        Map<String, Parameter> out = new LinkedHashMap<>();
        layersWith(model, adapterName).forEach((path, l) -> out.put(path + ".ia3_l", l.vector(adapterName)));
        if (out.isEmpty()) {
            throw new PeftException("the model has no IA3 adapter '" + adapterName + "'");
        }
        return out;
    }

    @Override
    public void setActive(Module model, String adapterName, boolean active) {
        forEachLayer(model, adapterName, "switch", l -> l.setActive(adapterName, active));
    }

    @Override
    public void delete(Module model, String adapterName) {
        Map<String, Ia3Linear> layers = layersWith(model, adapterName);
        if (layers.isEmpty()) {
            throw new PeftException("cannot delete: the model has no IA3 adapter '" + adapterName + "'");
        }
        layers.forEach((path, l) -> {
            l.remove(adapterName);
            if (!l.hasAdapters()) {
                model.replace(path, l.baseLayer());
            }
        });
    }

    /** IA3 layers route rows by {@link org.peft4j.core.tuner.RowAdapters}: one batch may mix adapters. */
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
        // every layer is checked first, so a refused merge leaves all weights as they were
        layersWith(model, adapterName).values().forEach(l -> {
            if (!l.isMerged(adapterName)) {
                l.checkMergeable(adapterName);
            }
        });
        forEachLayer(model, adapterName, "merge", l -> l.merge(adapterName));
    }

    @Override
    public void unmerge(Module model, String adapterName) {
        forEachLayer(model, adapterName, "unmerge", l -> l.unmerge(adapterName));
    }

    private static Map<String, Ia3Linear> layersWith(Module model, String adapterName) {
        Map<String, Ia3Linear> out = new LinkedHashMap<>();
        model.namedModules().forEach((path, m) -> {
            if (m instanceof Ia3Linear l && l.contains(adapterName)) {
                out.put(path, l);
            }
        });
        return out;
    }

    private static void forEachLayer(Module model, String adapterName, String what, Consumer<Ia3Linear> action) {
        Map<String, Ia3Linear> layers = layersWith(model, adapterName);
        if (layers.isEmpty()) {
            throw new PeftException("cannot " + what + ": the model has no IA3 adapter '" + adapterName + "'");
        }
        if (what.equals("merge") && layers.values().iterator().next().isMerged(adapterName)) {
            LOG.warn("IA3 adapter '{}' is already merged; merging again changes nothing", adapterName);
            return;
        }
        layers.values().forEach(action);
    }
}
