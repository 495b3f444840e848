package org.peft4j.ia3;

import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.peft4j.api.PeftApi;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.config.TargetModules;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;
import org.peft4j.api.tuner.TunerContext;
import org.peft4j.core.tuner.LayerTuner;

/**
 * The IA3 method ({@code peft_type} {@value Ia3Config#PEFT_TYPE}): wraps target linear layers in
 * {@link Ia3Linear}. A target is feed-forward when {@code feedforward_modules} matches its path
 * (exact name, {@code .name} suffix, or a full-match regex), as in HF PEFT. File names below
 * {@code base_model.model.}: {@code <module path>.ia3_l}, shaped (1, in) for feed-forward modules
 * and (out, 1) for the others, as HF PEFT saves them (a parameter, so no {@code .weight}).
 */
public final class Ia3Tuner extends LayerTuner<Ia3Config, Ia3Linear> {

    public Ia3Tuner() {
        super(PeftApi.VERSION, Ia3Config.PEFT_TYPE, Ia3Config.class, Ia3Linear.class);
    }

    @Override
    protected List<String> targets(Module model, Ia3Config cfg, String adapterName, TunerContext context) {
        return linearTargets(model, cfg.targets(), cfg.fanInFanOut(), context);
    }

    @Override
    protected Ia3Linear wrap(String path, Module target, Ia3Config cfg, TunerContext context) {
        if (target instanceof Linear plain) {
            return new Ia3Linear(plain, matches(cfg.feedforwardModules(), path));
        }
        throw new PeftException("module '" + path + "' is a " + target.getClass().getSimpleName()
                + ", which IA3 cannot wrap; target plain linear layers");
    }

    @Override
    protected void checkCompatible(String path, Ia3Linear existing, Ia3Config cfg) {
        if (existing.isFeedforward() != matches(cfg.feedforwardModules(), path)) {
            throw new PeftException("module '" + path + "' already has IA3 adapters that scale its "
                    + (existing.isFeedforward() ? "input" : "output")
                    + "; a second adapter must use the same feedforward_modules for it");
        }
    }

    @Override
    protected Map<String, long[]> layerShapes(String path, Module target, Ia3Config cfg) {
        LinearLayer linear = (LinearLayer) target;
        boolean feedforward = target instanceof Ia3Linear l ? l.isFeedforward() : matches(cfg.feedforwardModules(), path);
        return Map.of("ia3_l", feedforward ? new long[] {1, linear.inFeatures()} : new long[] {linear.outFeatures(), 1});
    }

    @Override
    public String sizeKeys(Ia3Config cfg) {
        return "feedforward_modules=" + cfg.feedforwardModules().toJson();
    }

    @Override
    protected void addAdapter(String path, Ia3Linear ia3, String adapterName, Ia3Config cfg, TunerContext context) {
        Backend backend = context.backend();
        long[] shape = ia3.vectorShape();
        ia3.addAdapter(adapterName, cfg.initIa3Weights() ? backend.full(1f, shape)
                : context.init().normal(backend, 0f, 1f, shape));
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
    protected Map<String, Parameter> layerState(Ia3Linear layer, String adapterName) {
        return Map.of("ia3_l", layer.vector(adapterName));
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
}
