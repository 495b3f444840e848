package org.peft4j.train;

import java.util.ArrayList;
import java.util.List;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Tensor;

/** Global-norm gradient clipping, as PyTorch's {@code clip_grad_norm_}. */
public final class GradientClipping {
    private GradientClipping() {
    }

    /** Global L2 norm of all gradients. */
    public static float norm(Gradients gradients) {
        double sq = 0;
        for (Tensor g : gradients.grads()) {
            sq += g.square().sum(false).item();
        }
        return (float) Math.sqrt(sq);
    }

    /** Gradients scaled so their global norm is at most {@code maxNorm} (unchanged when below). */
    public static Gradients clip(Gradients gradients, float maxNorm) {
        float norm = norm(gradients);
        if (!(norm > maxNorm)) {
            return gradients;
        }
        return scale(gradients, maxNorm / (norm + 1e-6f));
    }

    /** Every gradient multiplied by {@code factor}; the loss is kept. */
    public static Gradients scale(Gradients gradients, float factor) {
        List<Tensor> out = new ArrayList<>();
        for (Tensor g : gradients.grads()) {
            out.add(g.mul(factor));
        }
        return new Gradients(gradients.loss(), out);
    }
}
