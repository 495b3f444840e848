package org.peft4j.adapter;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.peft4j.api.PeftApi;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.nn.InsertionPoint;
import org.peft4j.api.nn.LayerNorm;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.Module;
import org.peft4j.api.nn.ModuleDict;
import org.peft4j.api.tuner.TargetSpec;
import org.peft4j.api.tuner.TunerContext;
import org.peft4j.core.tuner.LayerTuner;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bottleneck adapters ({@code peft_type} {@value BottleneckConfig#PEFT_TYPE}): Houlsby, Pfeiffer
 * and parallel adapters, put in the model's {@link InsertionPoint}s called {@value #HOOK}.
 *
 * <p>An insertion point whose path has a segment containing {@code attention} or {@code attn}
 * follows the attention sub-layer ({@code mh_adapter}); every other one follows the feed-forward
 * sub-layer ({@code output_adapter}). The layer index used by {@code leave_out} is the number after
 * {@code layer}, {@code layers}, {@code h}, {@code block} or {@code blocks} in the path. The sizes
 * come from the insertion point: d is the sub-layer's output width and, for parallel adapters,
 * the down-projection reads the sub-layer's input.
 *
 * <p>File names below {@code base_model.model.}: {@code <insertion point path>.adapter_down.weight}
 * (m x in), {@code .adapter_down.bias} (m), {@code .adapter_up.weight} (d x m),
 * {@code .adapter_up.bias} (d) and, with {@code ln_before}, {@code .adapter_norm_before.weight}
 * and {@code .bias} (d). Adapters cannot be merged into the base weights: the non-linearity sits
 * between the projections.
 */
public final class BottleneckTuner extends LayerTuner<BottleneckConfig, BottleneckLayer> {
    /** The name of the insertion points adapters go into. */
    public static final String HOOK = "adapter";
    private static final Pattern LAYER = Pattern.compile("(?:^|\\.)(?:layers|layer|h|blocks|block)\\.(\\d+)(?:\\.|$)");
    private static final String[] PARTS = {"adapter_down", "adapter_up", "adapter_norm_before"};

    public BottleneckTuner() {
        super(PeftApi.VERSION, BottleneckConfig.PEFT_TYPE, BottleneckConfig.class, BottleneckLayer.class);
    }

    @Override
    protected List<String> targets(Module model, BottleneckConfig cfg, String adapterName, TunerContext context) {
        List<String> hooks = context.selector().select(model, TargetSpec.of(HOOK), m -> m instanceof InsertionPoint);
        List<String> targets = new ArrayList<>();
        for (String path : hooks) {
            boolean attention = isAttention(path);
            if ((attention && !cfg.mhAdapter()) || (!attention && !cfg.outputAdapter())) {
                continue;
            }
            Integer layer = layerIndex(path);
            if (layer != null && cfg.leaveOut().contains(layer)) {
                continue;
            }
            targets.add(path);
        }
        if (targets.isEmpty()) {
            throw new PeftException("bottleneck adapter '" + adapterName + "' selects no insertion point (mh_adapter="
                    + cfg.mhAdapter() + ", output_adapter=" + cfg.outputAdapter() + ", leave_out=" + cfg.leaveOut()
                    + "); insertion points of the model: " + hooks);
        }
        return targets;
    }

    @Override
    protected BottleneckLayer wrap(String path, Module target, BottleneckConfig cfg, TunerContext context) {
        if (target.getClass() != InsertionPoint.class) {
            throw new PeftException("insertion point '" + path + "' is already taken by a "
                    + target.getClass().getSimpleName() + "; delete that adapter first");
        }
        InsertionPoint point = (InsertionPoint) target;
        return new BottleneckLayer(context.backend(), point.inputSize(), point.outputSize());
    }

    @Override
    protected Map<String, long[]> layerShapes(String path, Module target, BottleneckConfig cfg) {
        InsertionPoint point = (InsertionPoint) target;
        long d = point.outputSize();
        long in = cfg.isParallel() ? point.inputSize() : d;
        long m = cfg.bottleneckSize(d);
        Map<String, long[]> out = new java.util.LinkedHashMap<>();
        out.put("adapter_down.weight", new long[] {m, in});
        out.put("adapter_down.bias", new long[] {m});
        out.put("adapter_up.weight", new long[] {d, m});
        out.put("adapter_up.bias", new long[] {d});
        if (cfg.lnBefore()) {
            out.put("adapter_norm_before.weight", new long[] {d});
            out.put("adapter_norm_before.bias", new long[] {d});
        }
        return out;
    }

    @Override
    public String sizeKeys(BottleneckConfig cfg) {
        return "config=" + cfg.config() + ", reduction_factor=" + cfg.reductionFactor() + ", bottleneck_size="
                + cfg.bottleneckSize() + ", is_parallel=" + cfg.isParallel() + ", ln_before=" + cfg.lnBefore();
    }

    @Override
    protected void addAdapter(String path, BottleneckLayer layer, String adapterName, BottleneckConfig cfg,
            TunerContext context) {
        Backend backend = context.backend();
        long d = layer.outputSize();
        long in = cfg.isParallel() ? layer.inputSize() : d;
        int m = cfg.bottleneckSize(d);
        // down: PyTorch's Linear init (kaiming-uniform weight); up: zero, so the adapter starts as a no-op
        Linear down = Linear.init(backend, in, m, true, context.init());
        Linear up = new Linear(backend, backend.zeros(d, m), backend.zeros(d));
        LayerNorm norm = cfg.lnBefore() ? new LayerNorm(backend, backend.full(1f, d), backend.zeros(d), 1e-5f) : null;
        layer.addAdapter(adapterName, down, up, norm,
                new BottleneckLayer.Settings(cfg.nonLinearity(), cfg.scaling(), cfg.isParallel()));
    }

    static boolean isAttention(String path) {
        for (String part : path.split("\\.")) {
            if (part.contains("attention") || part.contains("attn")) {
                return true;
            }
        }
        return false;
    }

    static Integer layerIndex(String path) {
        Matcher m = LAYER.matcher(path);
        return m.find() ? Integer.valueOf(m.group(1)) : null;
    }

    @Override
    protected Map<String, Parameter> layerState(BottleneckLayer layer, String adapterName) {
        Map<String, Parameter> out = new java.util.LinkedHashMap<>();
        for (String part : PARTS) {
            ModuleDict dict = layer.child(part, ModuleDict.class);
            if (dict.contains(adapterName)) {
                dict.child(adapterName).parameters().forEach((n, p) -> out.put(part + "." + n, p));
            }
        }
        return out;
    }

    /** Bottleneck layers route rows by {@link org.peft4j.core.tuner.RowAdapters}: one batch may mix adapters. */
    @Override
    public boolean supportsMixedBatches() {
        return true;
    }

    @Override
    protected String whyNotMergeable() {
        return "the non-linearity between the down- and up-projection has no linear equivalent; "
                + "run the model unmerged, or use LoRA or IA3 when merging is needed";
    }
}
