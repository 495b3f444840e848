package org.peft4j.adapter;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.nn.InsertionPoint;
import org.peft4j.api.nn.LayerNorm;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.Module;
import org.peft4j.api.nn.ModuleDict;
import org.peft4j.api.tuner.TargetSpec;
import org.peft4j.api.tuner.Tuner;
import org.peft4j.api.tuner.TunerContext;
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
public final class BottleneckTuner implements Tuner {
    /** The name of the insertion points adapters go into. */
    public static final String HOOK = "adapter";
    private static final Logger LOG = LoggerFactory.getLogger(BottleneckTuner.class);
    private static final Pattern LAYER = Pattern.compile("(?:^|\\.)(?:layers|layer|h|blocks|block)\\.(\\d+)(?:\\.|$)");
    private static final String[] PARTS = {"adapter_down", "adapter_up", "adapter_norm_before"};

    @Override
    public String peftType() {
        return BottleneckConfig.PEFT_TYPE;
    }

    @Override
    public Class<? extends PeftConfig> configClass() {
        return BottleneckConfig.class;
    }

    @Override
    public void inject(Module model, PeftConfig config, String adapterName, TunerContext context) {
        if (!(config instanceof BottleneckConfig cfg)) {
            throw new PeftException("bottleneck adapters need a BottleneckConfig, got "
                    + config.getClass().getSimpleName());
        }
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
        // check every target before changing the model, so a config that does not fit leaves it as it was
        for (String path : targets) {
            Module current = model.find(path);
            if (!(current instanceof BottleneckLayer) && current.getClass() != InsertionPoint.class) {
                throw new PeftException("insertion point '" + path + "' is already taken by a "
                        + current.getClass().getSimpleName() + "; delete that adapter first");
            }
        }
        Backend backend = context.backend();
        for (String path : targets) {
            InsertionPoint point = (InsertionPoint) model.find(path);
            long d = point.outputSize();
            long in = cfg.isParallel() ? point.inputSize() : d;
            int m = cfg.bottleneckSize(d);
            BottleneckLayer layer;
            if (point instanceof BottleneckLayer existing) {
                layer = existing;
            } else {
                layer = new BottleneckLayer(backend, point.inputSize(), d);
                model.replace(path, layer);
            }
            // down: PyTorch's Linear init (kaiming-uniform weight); up: zero, so the adapter starts as a no-op
            Linear down = Linear.init(backend, in, m, true, context.init());
            Linear up = new Linear(backend, backend.zeros(d, m), backend.zeros(d));
            LayerNorm norm = cfg.lnBefore() ? new LayerNorm(backend, backend.full(1f, d), backend.zeros(d), 1e-5f) : null;
            layer.addAdapter(adapterName, down, up, norm,
                    new BottleneckLayer.Settings(cfg.nonLinearity(), cfg.scaling(), cfg.isParallel()));
        }
        LOG.debug("bottleneck adapter '{}' ({}) inserted at {} points", adapterName, cfg.config(), targets.size());
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
    public Map<String, Parameter> adapterState(Module model, String adapterName) {
        Map<String, Parameter> out = new LinkedHashMap<>();
        layersWith(model, adapterName).forEach((path, layer) -> {
            for (String part : PARTS) {
                ModuleDict dict = layer.child(part, ModuleDict.class);
                if (dict.contains(adapterName)) {
                    dict.child(adapterName).parameters().forEach((n, p) -> out.put(path + "." + part + "." + n, p));
                }
            }
        });
        if (out.isEmpty()) {
            throw new PeftException("the model has no bottleneck adapter '" + adapterName + "'");
        }
        return out;
    }

    @Override
    public void setActive(Module model, String adapterName, boolean active) {
        Map<String, BottleneckLayer> layers = layersWith(model, adapterName);
        if (layers.isEmpty()) {
            throw new PeftException("cannot switch: the model has no bottleneck adapter '" + adapterName + "'");
        }
        layers.values().forEach(l -> l.setActive(adapterName, active));
    }

    @Override
    public void delete(Module model, String adapterName) {
        Map<String, BottleneckLayer> layers = layersWith(model, adapterName);
        if (layers.isEmpty()) {
            throw new PeftException("cannot delete: the model has no bottleneck adapter '" + adapterName + "'");
        }
        layers.forEach((path, layer) -> {
            layer.remove(adapterName);
            if (!layer.hasAdapters()) {
                model.replace(path, new InsertionPoint(layer.backend(), layer.inputSize(), layer.outputSize()));
            }
        });
    }

    /** Bottleneck layers route rows by {@link org.peft4j.core.tuner.RowAdapters}: one batch may mix adapters. */
    @Override
    public boolean supportsMixedBatches() {
        return true;
    }

    @Override
    public void merge(Module model, String adapterName) {
        throw new PeftException("bottleneck adapters cannot be merged into the base weights (adapter '" + adapterName
                + "'): the non-linearity between the down- and up-projection has no linear equivalent; "
                + "run the model unmerged, or use LoRA or IA3 when merging is needed");
    }

    @Override
    public void unmerge(Module model, String adapterName) {
        throw new PeftException("bottleneck adapters are never merged, so there is nothing to unmerge (adapter '"
                + adapterName + "')");
    }

    private static Map<String, BottleneckLayer> layersWith(Module model, String adapterName) {
        Map<String, BottleneckLayer> out = new LinkedHashMap<>();
        model.namedModules().forEach((path, m) -> {
            if (m instanceof BottleneckLayer l && l.contains(adapterName)) {
                out.put(path, l);
            }
        });
        return out;
    }
}
