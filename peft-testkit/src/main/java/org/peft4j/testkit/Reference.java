package org.peft4j.testkit;

/** Plain-Java reference math for checking backends. */
public final class Reference {
    private Reference() {
    }

    /** Largest absolute element-wise difference; the arrays must have equal length. */
    public static float maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new AssertionError("lengths differ: " + a.length + " vs " + b.length);
        }
        float m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    /** Largest absolute difference between {@code a[i]} and {@code b[i]} for i in [from, to). */
    public static float maxAbsDiff(float[] a, float[] b, int from, int to) {
        if (to > a.length || to > b.length) {
            throw new AssertionError("range [" + from + ", " + to + ") beyond lengths " + a.length + " and " + b.length);
        }
        float m = 0;
        for (int i = from; i < to; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    /** Row-major (m, k) times (k, n). */
    public static float[] matmul(float[] a, float[] b, int m, int k, int n) {
        float[] c = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    s += a[i * k + p] * b[p * n + j];
                }
                c[i * n + j] = (float) s;
            }
        }
        return c;
    }

    /** Deterministic pseudo-random floats in [-1, 1). */
    public static float[] randoms(int n, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return v;
    }

    /** Resident set size of this process in bytes, from /proc (0 where unavailable). */
    public static long residentBytes() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }

    /**
     * Resident bytes once garbage the engines free through the Java GC (ND4J/JavaCPP deallocators)
     * has been collected: the lowest of a few readings, each after a GC and a short pause for the
     * deallocator thread.
     */
    public static long settledResidentBytes() {
        long min = Long.MAX_VALUE;
        for (int i = 0; i < 5; i++) {
            System.gc();
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            min = Math.min(min, residentBytes());
        }
        return min;
    }
}
