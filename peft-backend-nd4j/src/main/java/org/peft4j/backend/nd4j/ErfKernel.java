package org.peft4j.backend.nd4j;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * erf, exact GELU and GELU's derivative of FLOAT arrays, computed in Java. libnd4j's erf calls libm's scalar
 * {@code erff} once per element: 45-60 ms for one MiniLM intermediate activation (32 x 64 x 1536)
 * on 2 cores, a sixth of an ND4J forward pass. Here erf is a rational function evaluated in double
 * in loops C2 vectorizes (~12 ms for the same GELU). Eager values come from here, and so do the
 * GELU and GELU-derivative ops of recorded graphs ({@link GraphKernels}); the tests hold them to
 * within 1 ulp of the exact erf.
 *
 * <p>The approximation: {@code erf(x) = z P(z^2) / Q(z^2)} with {@code z} = x clamped to [-4, 4]
 * (beyond 4, erf rounds to +-1 in float), P of degree 6 and Q of degree 5, fitted by iterated
 * weighted least squares to a relative error of 2.1e-9 on [0, 4], far below a float's 6e-8.
 * GELU below x = -4 sqrt 2 is -4.4e-8 (the exact value tends to 0; libm's erf gives 0, or NaN at
 * -infinity).
 */
final class ErfKernel {
    private static final double P0 = 1.1283791693652319;
    private static final double P1 = 0.18520401530341724;
    private static final double P2 = 0.05431681061134183;
    private static final double P3 = 0.0038496165100613882;
    private static final double P4 = 0.00037960042045004035;
    private static final double P5 = 4.6845373635395955e-06;
    private static final double P6 = -1.3201062954938395e-08;
    private static final double Q1 = 0.4974661987523346;
    private static final double Q2 = 0.11395856176123917;
    private static final double Q3 = 0.015462071342144673;
    private static final double Q4 = 0.001307559406950849;
    private static final double Q5 = 6.310828933516692e-05;
    private static final double INV_SQRT2 = 1.0 / Math.sqrt(2.0);
    private static final double INV_SQRT_2PI = 1.0 / Math.sqrt(2.0 * Math.PI);
    /** GELU's derivative: past |x| = 9 the density's term (below 1e-17) is taken at +-9. */
    private static final double DENSITY_CLAMP = 9.0;
    /** 1/k! for the Taylor polynomial of exp. */
    private static final double E2 = 1.0 / 2;
    private static final double E3 = E2 / 3;
    private static final double E4 = E3 / 4;
    private static final double E5 = E4 / 5;
    private static final double E6 = E5 / 6;
    private static final double E7 = E6 / 7;
    private static final double E8 = E7 / 8;
    private static final double E9 = E8 / 9;
    private static final double E10 = E9 / 10;
    private static final double E11 = E10 / 11;
    /** GELU's x where erf's argument reaches the clamp, -4 sqrt 2. */
    private static final double GELU_TAIL = -4.0 * Math.sqrt(2.0);
    /** Per-thread scratch: a chunk in double, before and after. */
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private static final class Scratch {
        final double[] x = new double[FloatKernels.CHUNK];
        final double[] y = new double[FloatKernels.CHUNK];
    }

    private ErfKernel() {
    }

    /** What a pass computes from each element. */
    private enum Mode { ERF, GELU, GELU_DERIVATIVE }

    /** erf of every element of {@code x} (FLOAT), as a new 'c'-ordered array of the same shape. */
    static INDArray erf(INDArray x) {
        return FloatKernels.map(x, FloatKernels.CHUNK, (f, len) -> chunk(SCRATCH.get(), f, len, Mode.ERF));
    }

    /** {@code x * 0.5 * (1 + erf(x / sqrt 2))} of every element of {@code x} (FLOAT), as a new array. */
    static INDArray gelu(INDArray x) {
        return FloatKernels.map(x, FloatKernels.CHUNK, (f, len) -> chunk(SCRATCH.get(), f, len, Mode.GELU));
    }

    /** GELU of every element of {@code x} written to {@code out} (FLOAT, as many elements). */
    static void geluInto(INDArray x, INDArray out) {
        FloatKernels.mapInto(x, out, FloatKernels.CHUNK, (f, len) -> chunk(SCRATCH.get(), f, len, Mode.GELU), false);
    }

    /**
     * GELU's derivative {@code 0.5 * (1 + erf(x / sqrt 2)) + x * exp(-x^2 / 2) / sqrt(2 pi)} of every
     * element of {@code x} written to {@code out} (FLOAT, as many elements).
     */
    static void geluDerivativeInto(INDArray x, INDArray out) {
        FloatKernels.mapInto(x, out, FloatKernels.CHUNK,
                (f, len) -> chunk(SCRATCH.get(), f, len, Mode.GELU_DERIVATIVE), false);
    }

    /** Overwrites {@code f[0, len)} with its erf, GELU or GELU derivative, in loops simple enough for C2 to vectorize. */
    private static void chunk(Scratch s, float[] f, int len, Mode mode) {
        double[] x = s.x;
        double[] y = s.y;
        double scale = mode == Mode.ERF ? 1.0 : INV_SQRT2;
        for (int i = 0; i < len; i++) {
            x[i] = f[i];
        }
        for (int i = 0; i < len; i++) {
            // Math.min/max, not ternaries: they vectorize, and they keep NaN as NaN
            double z = Math.max(-4.0, Math.min(4.0, x[i] * scale));
            double t = z * z;
            double p = (((((P6 * t + P5) * t + P4) * t + P3) * t + P2) * t + P1) * t + P0;
            double q = ((((Q5 * t + Q4) * t + Q3) * t + Q2) * t + Q1) * t + 1.0;
            y[i] = z * p / q;
        }
        if (mode == Mode.GELU) {
            for (int i = 0; i < len; i++) {
                // past z = -4, 1 + erf stays at its clamped 1.5e-8: clamping x too keeps the tail
                // within 4.4e-8 of GELU's limit 0 rather than growing with |x|
                y[i] = 0.5 * Math.max(GELU_TAIL, x[i]) * (1.0 + y[i]);
            }
        } else if (mode == Mode.GELU_DERIVATIVE) {
            for (int i = 0; i < len; i++) {
                // the normal CDF plus x times the normal density, with the density's exp(-x^2 / 2)
                // computed as exp(u)^64 from a Taylor polynomial of u = -x^2 / 128 (|u| <= 0.64 once
                // x is clamped to [-9, 9], where the density's term is below 1e-17): Math.exp does
                // not vectorize and took most of this pass. Relative error of the power: ~6e-10.
                double xc = Math.max(-DENSITY_CLAMP, Math.min(DENSITY_CLAMP, x[i]));
                double u = -xc * xc * (0.5 / 64);
                double e = ((((((((((u * E11 + E10) * u + E9) * u + E8) * u + E7) * u + E6) * u + E5) * u + E4) * u
                        + E3) * u + E2) * u + 1.0) * u + 1.0;
                e *= e;
                e *= e;
                e *= e;
                e *= e;
                e *= e;
                e *= e;
                y[i] = 0.5 * (1.0 + y[i]) + xc * INV_SQRT_2PI * e;
            }
        }
        for (int i = 0; i < len; i++) {
            f[i] = (float) y[i];
        }
    }
}
