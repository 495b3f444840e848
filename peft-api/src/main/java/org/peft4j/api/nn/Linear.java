package org.peft4j.api.nn;

import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Tensor;

/** A dense layer with PyTorch's layout: {@code weight} (out, in) and an optional {@code bias} (out). */
public class Linear extends Module implements LinearLayer {
    private final long in;
    private final long out;

    /** A layer with the given weight (out, in) and bias (out, or null for none). */
    public Linear(Backend backend, Tensor weight, Tensor bias) {
        super(backend);
        if (weight.rank() != 2 || (bias != null && (bias.rank() != 1 || bias.size(0) != weight.size(0)))) {
            throw new org.peft4j.api.PeftException("Linear needs weight (out, in) and bias (out); got weight "
                    + java.util.Arrays.toString(weight.shape()) + " and bias "
                    + (bias == null ? "none" : java.util.Arrays.toString(bias.shape())));
        }
        this.out = weight.size(0);
        this.in = weight.size(1);
        register("weight", new Parameter(weight));
        if (bias != null) {
            register("bias", new Parameter(bias));
        }
    }

    /** A layer initialised as PyTorch does: uniform in +-1/sqrt(in) for weight and bias. */
    public static Linear init(Backend backend, long in, long out, boolean bias, Init init) {
        float bound = (float) (1.0 / Math.sqrt(in));
        return new Linear(backend, init.uniform(backend, -bound, bound, out, in),
                bias ? init.uniform(backend, -bound, bound, out) : null);
    }

    public Parameter weight() {
        return parameters().get("weight");
    }

    /** The bias, or null when the layer has none. */
    public Parameter bias() {
        return parameters().get("bias");
    }

    @Override
    public Tensor forward(Tensor x) {
        Parameter b = bias();
        return x.linear(weight().value(), b == null ? null : b.value());
    }

    @Override
    public long inFeatures() {
        return in;
    }

    @Override
    public long outFeatures() {
        return out;
    }

    @Override
    public Linear baseLayer() {
        return this;
    }
}
