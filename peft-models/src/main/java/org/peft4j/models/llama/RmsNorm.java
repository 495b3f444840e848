package org.peft4j.models.llama;

import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Module;

/** Root-mean-square normalisation over the last axis with a learned gain ({@code weight}). */
public final class RmsNorm extends Module {
    private final float eps;

    RmsNorm(Backend backend, Tensor weight, float eps) {
        super(backend);
        this.eps = eps;
        register("weight", new Parameter(weight));
    }

    public Tensor forward(Tensor x) {
        Tensor rms = x.square().mean(true, -1).add(eps).sqrt();
        return x.div(rms).mul(parameters().get("weight").value());
    }
}
