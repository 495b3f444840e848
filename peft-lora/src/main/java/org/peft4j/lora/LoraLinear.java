package org.peft4j.lora;

import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Functional;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.Module;
import org.peft4j.api.nn.ModuleDict;
import org.peft4j.core.tuner.LinearAdapterLayer;
import org.peft4j.core.tuner.RowAdapters;

/**
 * A linear layer with LoRA adapters beside it, laid out as HF PEFT's {@code lora.Linear}:
 * children {@code base_layer}, {@code lora_A.<adapter>} (r x in) and {@code lora_B.<adapter>}
 * (out x r). Output: {@code base(x) + sum over active, unmerged adapters of
 * B(A(dropout(x))) * scaling}.
 *
 * <p>DoRA adapters also hold {@code lora_magnitude_vector.<adapter>.weight}, a magnitude per
 * output row: the adapted weight {@code W + scaling * B A} is normalised row by row and rescaled
 * to it, with the norm treated as a constant by autodiff (DoRA paper, section 4.3, as HF does).
 */
public final class LoraLinear extends LinearAdapterLayer<LoraLinear.Settings> {

    /**
     * How one adapter computes.
     *
     * @param scaling alpha/r, or alpha/sqrt(r) with rsLoRA
     * @param dropout dropout on the adapter's input
     * @param bias HF's {@code bias} setting: none, all or lora_only
     */
    record Settings(float scaling, float dropout, String bias) {
    }

    LoraLinear(Linear base) {
        super(base, "LoRA");
        register("lora_A", new ModuleDict(base.backend()));
        register("lora_B", new ModuleDict(base.backend()));
        register("lora_magnitude_vector", new ModuleDict(base.backend()));
    }

    ModuleDict loraA() {
        return child("lora_A", ModuleDict.class);
    }

    ModuleDict loraB() {
        return child("lora_B", ModuleDict.class);
    }

    ModuleDict magnitudes() {
        return child("lora_magnitude_vector", ModuleDict.class);
    }

    /** Per merged DoRA adapter, the row scale its merge applied, so unmerge can undo it exactly. */
    private final Map<String, Tensor> doraMergeScale = new LinkedHashMap<>();

    void addAdapter(String name, Linear a, Linear b, Settings settings, boolean dora) {
        dropStack();
        loraA().put(name, a);
        loraB().put(name, b);
        adapters().add(name, settings);
        if (dora) {
            try (Scope ignored = backend().scope()) {
                Tensor norm = rowNorm(baseLayer().weight().value().add(deltaWeight(name)));
                magnitudes().put(name, new Magnitude(new Parameter(norm)));
            }
        }
    }

    /** Whether adapter {@code name} is a DoRA adapter. */
    boolean isDora(String name) {
        return magnitudes().contains(name);
    }

    /** The L2 norm of each row of an (out, in) weight: (out). */
    private static Tensor rowNorm(Tensor weight) {
        return weight.square().sum(false, 1).sqrt();
    }

    /** DoRA's magnitude vector of one adapter, a module so its path reads {@code lora_magnitude_vector.<adapter>.weight}. */
    static final class Magnitude extends Module {
        Magnitude(Parameter weight) {
            super(weight.value().backend());
            register("weight", weight);
        }

        Parameter weight() {
            return parameters().get("weight");
        }
    }

    /** The magnitude of DoRA adapter {@code name}. */
    Parameter magnitude(String name) {
        return magnitudes().child(name, Magnitude.class).weight();
    }

    /** m / ||W + scaling * B A|| per output row, the norm cut off from autodiff. */
    private Tensor doraScale(String name) {
        Tensor w = baseLayer().weight().value();
        Tensor norm = rowNorm(w.add(deltaWeight(name).detach())).detach();
        return magnitude(name).value().div(norm);
    }

    /** The scaling of adapter {@code name} (alpha/r, or alpha/sqrt(r) with rsLoRA). */
    public float scaling(String name) {
        return adapters().get(name).scaling();
    }

    /** The update this adapter adds to the base weight: {@code B @ A * scaling}, (out, in). */
    Tensor deltaWeight(String name) {
        Tensor a = loraA().child(name, Linear.class).weight().value();
        Tensor b = loraB().child(name, Linear.class).weight().value();
        return b.matmul(a).mul(scaling(name));
    }

    @Override
    public void merge(String name) {
        Parameter w = baseLayer().weight();
        try (Scope ignored = backend().scope()) {
            if (isDora(name)) {
                Tensor rowScale = doraScale(name);
                w.set(w.value().add(deltaWeight(name)).mul(rowScale.reshape(-1, 1)));
                doraMergeScale.put(name, backend().keep(rowScale));
            } else {
                w.set(w.value().add(deltaWeight(name)));
            }
        }
    }

    @Override
    public void unmerge(String name) {
        Parameter w = baseLayer().weight();
        try (Scope ignored = backend().scope()) {
            Tensor rowScale = doraMergeScale.remove(name);
            if (rowScale != null) {
                w.set(w.value().div(rowScale.reshape(-1, 1)).sub(deltaWeight(name)));
                backend().release(rowScale);
            } else {
                w.set(w.value().sub(deltaWeight(name)));
            }
        }
    }

    /** Drops adapter {@code name}'s modules; the base weight is left as it is (merged or not). */
    @Override
    public void removeAdapter(String name) {
        dropStack();
        loraA().remove(name);
        loraB().remove(name);
        magnitudes().remove(name);
        Tensor rowScale = doraMergeScale.remove(name);
        if (rowScale != null) {
            backend().release(rowScale);
        }
    }

    @Override
    public Tensor forward(Tensor x) {
        Tensor base = baseLayer().forward(x);
        RowAdapters rows = RowAdapters.current();
        if (rows != null) {
            Tensor gathered = gatheredDelta(rows, x);
            if (gathered != null) {
                return base.add(gathered.reshape(base.shape()));
            }
            return rows.apply(base, x, (name, sub) -> {
                if (!adapters().contains(name)) {
                    return null;
                }
                if (isDora(name)) {
                    throw new PeftException("adapter '" + name + "' uses DoRA, which cannot be mixed row by row in one batch");
                }
                return delta(name, sub, null);
            });
        }
        Tensor y = base;
        for (String name : adapters().activeUnmerged()) {
            y = y.add(delta(name, x, base));
        }
        return y;
    }

    /**
     * A mixed batch's LoRA contribution in two plain matrix products: x times every adapter's A
     * at once (the A's stacked, K x r rows), a per-row mask that keeps only the row's own
     * adapter's r columns (holding that adapter's scale), then times every B at once. Rows on the
     * base model or on an adapter this layer does not hold get an all-zero mask. Null when the
     * shortcut does not apply (training, where dropout and per-adapter gradients take the row-group
     * path; DoRA; no row uses an adapter here; so many adapters that K x r exceeds a quarter of the
     * layer's narrower side, where the row groups cost less).
     */
    private Tensor gatheredDelta(RowAdapters rows, Tensor x) {
        java.util.List<String> names = rows.names();
        long positions = x.numel() / Math.max(1, inFeatures());
        // one name per batch row, or one per position (a packed batch); anything else takes rows.apply, which says why
        if (isTraining() || x.rank() < 2 || (x.size(0) != names.size() && positions != names.size())) {
            return null;
        }
        java.util.List<String> here = new java.util.ArrayList<>();
        for (String name : rows.distinctNames()) {
            if (adapters().contains(name)) {
                if (isDora(name)) {
                    return null;
                }
                here.add(name);
            }
        }
        Stacked stack = here.isEmpty() ? null : stackFor(here);
        if (stack == null) {
            return null;
        }
        int batch = names.size();
        long width = stack.width();
        // Every layer holding the same adapters at the same scales (the usual case) routes with the
        // same mask: made once per pass.
        java.util.List<Object> key = new java.util.ArrayList<>(java.util.List.of("lora-mask", width));
        stack.columns().forEach((name, c) -> key.addAll(java.util.List.of(name, c[0], c[1], scaling(name))));
        Tensor mask = rows.shared(key, () -> {
            float[] m = new float[(int) (batch * width)];
            for (int i = 0; i < batch; i++) {
                long[] c = stack.columns().get(names.get(i));
                if (c != null) {
                    java.util.Arrays.fill(m, (int) (i * width + c[0]), (int) (i * width + c[0] + c[1]), scaling(names.get(i)));
                }
            }
            return x.backend().fromFloats(m, batch, 1, width);
        });
        Tensor rowsX = x.reshape(batch, x.numel() / (batch * inFeatures()), inFeatures());
        Tensor down = rowsX.matmul(stack.aT()).mul(mask);
        return down.matmul(stack.bT());
    }

    /**
     * A's and B's stacked for a mixed batch.
     *
     * @param columns adapter -> {first column, rank}
     * @param sources the A and B values stacked, to tell when a parameter was replaced since
     * @param aT (in, width), the A's stacked and transposed
     * @param bT (width, out), the B's stacked and transposed
     */
    private record Stacked(Map<String, long[]> columns, long width, java.util.List<Tensor> sources, Tensor aT, Tensor bT) {
        boolean current(LoraLinear layer) {
            int i = 0;
            for (String name : columns.keySet()) {
                if (sources.get(i++) != layer.loraA().child(name, Linear.class).weight().value()
                        || sources.get(i++) != layer.loraB().child(name, Linear.class).weight().value()) {
                    return false;
                }
            }
            return true;
        }
    }

    /**
     * Every (non-DoRA) adapter of this layer stacked, built once and kept until an adapter is added
     * or removed (both under the model's exclusive lock, so no forward pass still reads the old
     * stack when it is released): concatenating and transposing K A's and B's on every call cost
     * about as much as the two products. When the layer holds too many adapters for one stack, or
     * a parameter was replaced since (training), a stack of just the batch's adapters is made for
     * this call and released with the caller's scope.
     */
    private volatile Stacked stacked;
    /** Set when this layer's adapters are too many to stack once; cleared with the stack. */
    private volatile boolean unstackable;

    /** @param here the adapters of this layer the batch's rows use, each once */
    private Stacked stackFor(java.util.List<String> here) {
        Stacked kept = stacked != null || unstackable ? stacked : keepStack();
        if (kept != null && kept.columns().keySet().containsAll(here) && kept.current(this)) {
            return kept;
        }
        return fits(here) ? stack(here) : null;
    }

    private synchronized Stacked keepStack() {
        if (stacked == null && !unstackable) {
            java.util.List<String> all = new java.util.ArrayList<>();
            for (String name : adapters().names()) {
                if (!isDora(name)) {
                    all.add(name);
                }
            }
            if (!fits(all)) {
                unstackable = true;
                return null;
            }
            try (Scope ignored = backend().scope()) {
                Stacked s = stack(all);
                stacked = new Stacked(s.columns(), s.width(), s.sources(), backend().keep(s.aT()), backend().keep(s.bT()));
            }
        }
        return stacked;
    }

    /**
     * Whether stacking {@code names} pays: every row multiplies by all K adapters' A and B, worth it
     * while K x r stays small next to the layer (at most a quarter of its narrower side, so at most
     * half the base layer's work).
     */
    private boolean fits(java.util.List<String> names) {
        long width = 0;
        for (String name : names) {
            width += loraA().child(name, Linear.class).outFeatures();
        }
        return width > 0 && width <= Math.min(inFeatures(), outFeatures()) / 4;
    }

    private Stacked stack(java.util.List<String> names) {
        Map<String, long[]> columns = new LinkedHashMap<>();
        java.util.List<Tensor> sources = new java.util.ArrayList<>();
        java.util.List<Tensor> as = new java.util.ArrayList<>();
        java.util.List<Tensor> bs = new java.util.ArrayList<>();
        long width = 0;
        for (String name : names) {
            Tensor a = loraA().child(name, Linear.class).weight().value();
            Tensor b = loraB().child(name, Linear.class).weight().value();
            columns.put(name, new long[] {width, a.size(0)});
            width += a.size(0);
            sources.add(a);
            sources.add(b);
            as.add(a);
            bs.add(b);
        }
        Tensor a = as.size() == 1 ? as.get(0) : backend().concat(as, 0);
        Tensor b = bs.size() == 1 ? bs.get(0) : backend().concat(bs, 1);
        return new Stacked(columns, width, sources, a.transposeLast2(), b.transposeLast2());
    }

    /** Releases the kept stack; called when the adapter set changes, under the model's exclusive lock. */
    private synchronized void dropStack() {
        Stacked old = stacked;
        stacked = null;
        unstackable = false;
        if (old != null) {
            backend().release(old.aT());
            backend().release(old.bT());
        }
    }

    /**
     * What adapter {@code name} adds to the base output for input {@code x}.
     *
     * @param base the base layer's output for {@code x} (reused by DoRA when dropout is off), or null
     */
    private Tensor delta(String name, Tensor x, Tensor base) {
        float p = adapters().get(name).dropout();
        boolean dropping = p > 0 && isTraining();
        Tensor h = dropping ? Functional.dropout(x, p, true) : x;
        Tensor down = loraA().child(name, Linear.class).forward(h);
        Tensor lora = loraB().child(name, Linear.class).forward(down).mul(scaling(name));
        if (!isDora(name)) {
            return lora;
        }
        // DoRA: (m / ||W'|| - 1) * (W h) + (m / ||W'||) * lora, so base + delta = m / ||W'|| * (W' h) + bias
        Linear layer = baseLayer();
        Tensor wh;
        if (dropping || base == null) {
            wh = h.linear(layer.weight().value(), null);
        } else {
            wh = layer.bias() == null ? base : base.sub(layer.bias().value());
        }
        Tensor rowScale = doraScale(name);
        return wh.mul(rowScale.sub(1f)).add(lora.mul(rowScale));
    }
}
