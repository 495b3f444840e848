package org.peft4j.ia3;

import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.Module;
import org.peft4j.api.nn.ParameterDict;
import org.peft4j.core.tuner.LinearAdapterLayer;
import org.peft4j.core.tuner.RowAdapters;

/**
 * A linear layer with IA3 scaling vectors, laid out as HF PEFT's {@code ia3.Linear}: children
 * {@code base_layer} and {@code ia3_l}, which holds one parameter per adapter. A feed-forward layer
 * scales its input, {@code base(x * l)} with l of shape (1, in); any other layer scales its output,
 * {@code base(x) * l} with l of shape (out, 1). Active adapters multiply. Inside
 * {@link RowAdapters#with} each row goes through its own adapter only (mixed-adapter batches).
 */
public final class Ia3Linear extends LinearAdapterLayer<Void> {
    private final boolean feedforward;

    Ia3Linear(Linear base, boolean feedforward) {
        super(base, "IA3");
        this.feedforward = feedforward;
        register("ia3_l", new ParameterDict(base.backend()));
    }

    /** The adapters' vectors by name, so parameter paths read {@code ia3_l.<adapter>}. */
    ParameterDict vectors() {
        return child("ia3_l", ParameterDict.class);
    }

    /** Whether this layer scales its input (a feed-forward module) rather than its output. */
    public boolean isFeedforward() {
        return feedforward;
    }

    /** The vector's shape in this layer: (1, in) for feed-forward modules, else (out, 1). */
    long[] vectorShape() {
        return feedforward ? new long[] {1, inFeatures()} : new long[] {outFeatures(), 1};
    }

    void addAdapter(String name, Tensor vector) {
        vectors().put(name, new Parameter(vector));
        adapters().add(name, null);
    }

    Parameter vector(String name) {
        adapters().get(name);
        return vectors().get(name);
    }

    @Override
    public void removeAdapter(String name) {
        vectors().remove(name);
    }

    /** Scales the base weight (and, for output scaling, the bias) by the vector. */
    @Override
    public void merge(String name) {
        scaleBase(vector(name).value(), false);
    }

    /** Fails when the vector has an entry so close to zero that unmerge could not divide it out again. */
    @Override
    public void checkMergeable(String name) {
        for (float v : vector(name).value().toFloatArray()) {
            if (Math.abs(v) < 1e-6f) {
                throw new PeftException("cannot merge IA3 adapter '" + name + "': its vector has an entry of " + v
                        + ", too close to zero for unmerge to restore the base weight; run it unmerged");
            }
        }
    }

    /** Divides the vector back out of the base weight (and bias). */
    @Override
    public void unmerge(String name) {
        scaleBase(vector(name).value(), true);
    }

    private void scaleBase(Tensor l, boolean divide) {
        // weight (out, in) times l (1, in) scales columns; times l (out, 1) scales rows
        Parameter w = baseLayer().weight();
        Parameter b = baseLayer().bias();
        try (Scope ignored = backend().scope()) {
            w.set(divide ? w.value().div(l) : w.value().mul(l));
            if (!feedforward && b != null) {
                Tensor lb = l.reshape(outFeatures());
                b.set(divide ? b.value().div(lb) : b.value().mul(lb));
            }
        }
    }

    @Override
    public Tensor forward(Tensor x) {
        RowAdapters rows = RowAdapters.current();
        if (rows != null) {
            return mixedForward(rows, x);
        }
        Tensor scale = null;
        for (String name : adapters().activeUnmerged()) {
            Tensor l = vector(name).value();
            scale = scale == null ? l : scale.mul(l);
        }
        if (scale == null) {
            return baseLayer().forward(x);
        }
        if (feedforward) {
            return baseLayer().forward(x.mul(scale.reshape(inFeatures())));
        }
        return baseLayer().forward(x).mul(scale.reshape(outFeatures()));
    }

    /**
     * One adapter per row, written as an addition to the base output: for output scaling
     * {@code base * l = base + base * (l - 1)}; for input scaling
     * {@code W (x * l) + b = base + W (x * (l - 1))}.
     */
    private Tensor mixedForward(RowAdapters rows, Tensor x) {
        Tensor base = baseLayer().forward(x);
        if (feedforward) {
            Tensor w = baseLayer().weight().value();
            return rows.apply(base, x, (name, sub) -> adapters().contains(name)
                    ? sub.mul(vector(name).value().reshape(inFeatures()).sub(1f)).linear(w, null)
                    : null);
        }
        return rows.apply(base, base, (name, sub) -> adapters().contains(name)
                ? sub.mul(vector(name).value().reshape(outFeatures()).sub(1f))
                : null);
    }
}
