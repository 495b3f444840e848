package org.peft4j.backend.nd4j;

import java.util.function.BinaryOperator;

/** Plain-Java reference math for the ND4J backend tests (NumPy broadcasting, matmul, randoms). */
final class Reference {
    private Reference() {
    }

    /** erf in double from its Taylor series: exact to ~1e-10 for |x| <= 4.5, where the float result is +-1 beyond. */
    static double erf(double x) {
        if (Math.abs(x) > 4.5) {
            return Math.signum(x);
        }
        double term = x;
        double sum = x;
        for (int n = 1; n < 200 && Math.abs(term) > 1e-30; n++) {
            term *= -x * x / n;
            sum += term / (2 * n + 1);
        }
        return sum * 2 / Math.sqrt(Math.PI);
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        return n;
    }

    /** NumPy's broadcast of two shapes. */
    static long[] broadcastShape(long[] a, long[] b) {
        int r = Math.max(a.length, b.length);
        long[] out = new long[r];
        for (int i = 0; i < r; i++) {
            long da = i < r - a.length ? 1 : a[i - (r - a.length)];
            long db = i < r - b.length ? 1 : b[i - (r - b.length)];
            if (da != db && da != 1 && db != 1) {
                throw new IllegalArgumentException("shapes do not broadcast");
            }
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    /** {@code f} applied element-wise to {@code a} and {@code b} broadcast against each other. */
    static float[] broadcast(float[] a, long[] sa, float[] b, long[] sb, BinaryOperator<Float> f) {
        long[] out = broadcastShape(sa, sb);
        int n = (int) numel(out);
        float[] r = new float[n];
        int[] idx = new int[out.length];
        for (int i = 0; i < n; i++) {
            int rem = i;
            for (int d = out.length - 1; d >= 0; d--) {
                idx[d] = (int) (rem % out[d]);
                rem /= (int) out[d];
            }
            r[i] = f.apply(a[offset(idx, sa)], b[offset(idx, sb)]);
        }
        return r;
    }

    private static int offset(int[] idx, long[] shape) {
        int off = 0;
        int shift = idx.length - shape.length;
        for (int d = 0; d < shape.length; d++) {
            int i = shape[d] == 1 ? 0 : idx[d + shift];
            off = off * (int) shape[d] + i;
        }
        return off;
    }

    static float[] matmul(float[] a, float[] b, int m, int k, int n) {
        return org.peft4j.testkit.Reference.matmul(a, b, m, k, n);
    }

    static float[] randoms(int n, long seed) {
        return org.peft4j.testkit.Reference.randoms(n, seed);
    }

    static float maxAbsDiff(float[] a, float[] b) {
        return org.peft4j.testkit.Reference.maxAbsDiff(a, b);
    }
}
