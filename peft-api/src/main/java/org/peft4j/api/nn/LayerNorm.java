package org.peft4j.api.nn;

import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Tensor;

/** Layer normalisation over the last axis, with {@code weight} (gain) and {@code bias}. */
public class LayerNorm extends Module {
    private final float eps;

    public LayerNorm(Backend backend, Tensor weight, Tensor bias, float eps) {
        super(backend);
        this.eps = eps;
        register("weight", new Parameter(weight));
        register("bias", new Parameter(bias));
    }

    public Tensor forward(Tensor x) {
        return x.layerNorm(parameters().get("weight").value(), parameters().get("bias").value(), eps);
    }
}
