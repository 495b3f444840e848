package org.peft4j.train;

import java.util.ArrayList;
import java.util.List;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;

/**
 * Adam with decoupled weight decay (Loshchilov and Hutter; PyTorch's {@code AdamW}), written once
 * on {@link Tensor} operations. State (first and second moments) exists only for the trainable
 * parameters it was given. Not thread-safe.
 */
public final class AdamW {
    /**
     * @param beta1 first-moment decay (0.9)
     * @param beta2 second-moment decay (0.999)
     * @param eps denominator guard (1e-8)
     * @param weightDecay decoupled decay per unit learning rate (0.01)
     */
    public record Options(float beta1, float beta2, float eps, float weightDecay) {
        public static final Options DEFAULT = new Options(0.9f, 0.999f, 1e-8f, 0.01f);

        public Options {
            if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
                throw new PeftException("AdamW betas must be in [0, 1), got " + beta1 + ", " + beta2);
            }
            if (!(eps > 0) || !(weightDecay >= 0)) {
                throw new PeftException("AdamW needs eps > 0 and weight_decay >= 0, got " + eps + ", " + weightDecay);
            }
        }
    }

    private final List<Parameter> params;
    private final Options options;
    private final List<Tensor> m = new ArrayList<>();
    private final List<Tensor> v = new ArrayList<>();
    private int steps;

    /** An optimizer for the trainable ones among {@code params}. */
    public AdamW(Iterable<Parameter> params, Options options) {
        this.options = options;
        this.params = new ArrayList<>();
        for (Parameter p : params) {
            if (p.trainable()) {
                this.params.add(p);
                Backend b = p.value().backend();
                m.add(b.keep(b.zeros(p.value().shape())));
                v.add(b.keep(b.zeros(p.value().shape())));
            }
        }
    }

    /** The parameters this optimizer updates, in order; {@link #step} expects gradients in this order. */
    public List<Parameter> parameters() {
        return List.copyOf(params);
    }

    /** Number of state elements held (two moments per trainable element). */
    public long stateElements() {
        long n = 0;
        for (Tensor t : m) {
            n += 2 * t.numel();
        }
        return n;
    }

    /** Steps taken so far. */
    public int steps() {
        return steps;
    }

    /** One update with learning rate {@code lr} from gradients in {@link #parameters()} order. */
    public void step(Gradients gradients, float lr) {
        List<Tensor> grads = gradients.grads();
        if (grads.size() != params.size()) {
            throw new PeftException("AdamW holds " + params.size() + " parameters but got " + grads.size()
                    + " gradients; compute gradients for optimizer.parameters()");
        }
        steps++;
        float bc1 = 1f - (float) Math.pow(options.beta1(), steps);
        float bc2 = 1f - (float) Math.pow(options.beta2(), steps);
        for (int i = 0; i < params.size(); i++) {
            Parameter p = params.get(i);
            Backend b = p.value().backend();
            try (Scope ignored = b.scope()) {
                Tensor g = grads.get(i);
                Tensor mi = m.get(i).mul(options.beta1()).add(g.mul(1f - options.beta1()));
                Tensor vi = v.get(i).mul(options.beta2()).add(g.square().mul(1f - options.beta2()));
                Tensor update = mi.div(bc1).div(vi.div(bc2).sqrt().add(options.eps()));
                Tensor w = p.value();
                Tensor decayed = options.weightDecay() == 0f ? w : w.mul(1f - lr * options.weightDecay());
                p.set(decayed.sub(update.mul(lr)));
                replace(m, i, mi);
                replace(v, i, vi);
            }
        }
    }

    private static void replace(List<Tensor> state, int i, Tensor value) {
        Tensor old = state.set(i, value.backend().keep(value));
        old.backend().release(old);
    }

    /** The first moments, in {@link #parameters()} order (live tensors: copy before the next step). */
    public List<Tensor> firstMoments() {
        return List.copyOf(m);
    }

    /** The second moments, in {@link #parameters()} order (live tensors: copy before the next step). */
    public List<Tensor> secondMoments() {
        return List.copyOf(v);
    }

    /**
     * Restores the state saved from an optimizer over the same parameters (a checkpoint), so the
     * next {@link #step} continues exactly where that one stopped.
     */
    public void restore(int steps, List<Tensor> firstMoments, List<Tensor> secondMoments) {
        if (firstMoments.size() != params.size() || secondMoments.size() != params.size()) {
            throw new PeftException("optimizer state holds " + firstMoments.size() + "/" + secondMoments.size()
                    + " moments for " + params.size() + " parameters");
        }
        for (int i = 0; i < params.size(); i++) {
            long[] want = params.get(i).value().shape();
            if (!java.util.Arrays.equals(want, firstMoments.get(i).shape())
                    || !java.util.Arrays.equals(want, secondMoments.get(i).shape())) {
                throw new PeftException("optimizer state for parameter " + i + " has shape "
                        + java.util.Arrays.toString(firstMoments.get(i).shape()) + ", the parameter has "
                        + java.util.Arrays.toString(want));
            }
            replace(m, i, firstMoments.get(i));
            replace(v, i, secondMoments.get(i));
        }
        this.steps = steps;
    }

    /** Releases the optimizer state. */
    public void release() {
        m.forEach(t -> t.backend().release(t));
        v.forEach(t -> t.backend().release(t));
        m.clear();
        v.clear();
    }
}
