package org.peft4j.api.nn;

import java.util.SplittableRandom;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;

/**
 * Seeded weight initialisation done in Java, so that a seed gives the same initial weights on
 * every backend. Not thread-safe: one instance per model construction.
 */
public final class Init {
    private final SplittableRandom random;

    public Init(long seed) {
        this.random = new SplittableRandom(seed);
    }

    /** Uniform in {@code [lo, hi)}. */
    public Tensor uniform(Backend backend, float lo, float hi, long... shape) {
        float[] v = new float[size(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = lo + (hi - lo) * (float) random.nextDouble();
        }
        return backend.fromFloats(v, shape);
    }

    /** Normal with the given mean and standard deviation. */
    public Tensor normal(Backend backend, float mean, float std, long... shape) {
        float[] v = new float[size(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = mean + std * (float) gaussian();
        }
        return backend.fromFloats(v, shape);
    }

    /**
     * PyTorch's {@code kaiming_uniform_(w, a=sqrt(5))} for a (out, in) weight: uniform in
     * +-sqrt(6 / ((1 + a^2) * in)) = +-1/sqrt(in).
     */
    public Tensor kaimingUniform(Backend backend, long out, long in) {
        float bound = (float) Math.sqrt(6.0 / ((1 + 5.0) * in));
        return uniform(backend, -bound, bound, out, in);
    }

    private double gaussian() {
        // Box-Muller: SplittableRandom has no nextGaussian before Java 17's RandomGenerator default.
        double u1 = 1.0 - random.nextDouble();
        double u2 = random.nextDouble();
        return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    private static int size(long... shape) {
        return Tensor.arrayLength("an initialised tensor", shape);
    }
}
