package org.peft4j.backend.nd4j;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Element-wise and row-wise kernels on eager FLOAT arrays, computed in Java where libnd4j is slow:
 * erf/GELU ({@link ErfKernel}) and layer norm. The input is copied chunk by chunk into a small
 * per-thread array (which stays in cache, and whose loops C2 vectorizes; loops over native memory
 * it does not), transformed there and copied into the output; chunks run on both cores.
 */
final class FloatKernels {
    /** Floats per work item: small enough for the scratch arrays to stay in L1/L2. */
    static final int CHUNK = 4096;
    /** Below this many elements one thread does it all: a fork costs more than it saves. */
    private static final int PARALLEL_FROM = 1 << 16;
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[1][CHUNK]);

    /** Transforms {@code f[0, len)} in place; {@code len} is a whole number of the kernel's units. */
    @FunctionalInterface
    interface ChunkOp {
        void apply(float[] f, int len);
    }

    private FloatKernels() {
    }

    /**
     * {@code op} over every element of {@code x} (FLOAT) in chunks of {@code chunk} elements (the
     * last may be shorter), as a new 'c'-ordered array of the same shape.
     */
    static INDArray map(INDArray x, int chunk, ChunkOp op) {
        INDArray out = Nd4j.createUninitialized(DataType.FLOAT, x.shape(), 'c');
        mapInto(x, out, chunk, op, true);
        return out;
    }

    /**
     * {@link #map} into {@code out}, a FLOAT array of {@code x}'s shape (an operation's output array
     * inside a SameDiff run). An element-wise {@code op} works on any dense layout both share;
     * {@code rows} asks for row-major data, for ops that work on whole rows.
     */
    static void mapInto(INDArray x, INDArray out, int chunk, ChunkOp op, boolean rows) {
        if (!(rows ? isRowMajor(out) : isDense(out))) {
            out.assign(map(x, chunk, op));
            return;
        }
        // element i of one buffer must be element i of the other: the same strides (ND4J's order
        // flag is not enough: a product's output can say 'f' and have row-major strides)
        INDArray in = isDense(x) && Arrays.equals(x.stride(), out.stride()) ? x : x.dup(isRowMajor(out) ? 'c' : 'f');
        if (!Arrays.equals(in.stride(), out.stride())) {
            out.assign(map(x, chunk, op));
            return;
        }
        long n = in.length();
        if (n == 0) {
            return;
        }
        FloatBuffer src = in.data().asNioFloat();
        FloatBuffer dst = out.data().asNioFloat();
        int srcBase = src.position() + (int) in.offset();
        int dstBase = dst.position() + (int) out.offset();
        int chunks = (int) ((n + chunk - 1) / chunk);
        IntStream work = IntStream.range(0, chunks);
        (n >= PARALLEL_FROM ? work.parallel() : work).forEach(c -> {
            float[] f = scratch(chunk);
            int from = c * chunk;
            int len = (int) Math.min(chunk, n - from);
            src.get(srcBase + from, f, 0, len);
            op.apply(f, len);
            dst.put(dstBase + from, f, 0, len);
        });
    }

    /** A FLOAT array whose elements fill one gap-free run of its buffer, row- or column-major. */
    private static boolean isDense(INDArray a) {
        return inBuffer(a) && (defaultStrides(a.shape(), a.stride(), true) || defaultStrides(a.shape(), a.stride(), false));
    }

    /** A FLOAT array whose elements fill one gap-free run of its buffer in row-major order. */
    private static boolean isRowMajor(INDArray a) {
        return inBuffer(a) && defaultStrides(a.shape(), a.stride(), true);
    }

    private static boolean inBuffer(INDArray a) {
        return a.dataType() == DataType.FLOAT && a.offset() + a.length() <= a.data().length();
    }

    private static boolean defaultStrides(long[] shape, long[] stride, boolean rowMajor) {
        long expected = 1;
        for (int k = 0; k < shape.length; k++) {
            int i = rowMajor ? shape.length - 1 - k : k;
            if (shape[i] != 1 && stride[i] != expected) {
                return false;
            }
            expected *= shape[i];
        }
        return true;
    }

    /**
     * Layer norm over the last axis of {@code x} (FLOAT): {@code (x - mean) / sqrt(var + eps) * gain
     * + bias} per row, with the biased variance of the centred row; mean and variance are summed in
     * double. libnd4j's composed ops made seven passes over the data; this makes three over a row
     * that stays in L1.
     */
    static INDArray layerNorm(INDArray x, float[] gain, float[] bias, float eps) {
        INDArray out = Nd4j.createUninitialized(DataType.FLOAT, x.shape(), 'c');
        layerNormInto(x, gain, bias, eps, out);
        return out;
    }

    /** {@link #layerNorm} into {@code out}, a FLOAT array of {@code x}'s shape. */
    static void layerNormInto(INDArray x, float[] gain, float[] bias, float eps, INDArray out) {
        int h = gain.length;
        int rowsPerChunk = Math.max(1, CHUNK / h);
        mapInto(x, out, rowsPerChunk * h, (f, len) -> {
            for (int o = 0; o < len; o += h) {
                normalizeRow(f, o, h, gain, bias, eps);
            }
        }, true);
    }

    /**
     * The gradients of {@link #layerNorm} for the incoming gradient {@code dy}: of the input, into
     * {@code dx} ({@code x}'s shape), {@code dx = inv * (dn - mean(dn) - n * mean(dn * n))} per row
     * with {@code n} the normalised row, {@code inv = 1 / sqrt(var + eps)} and {@code dn = dy * gain};
     * of the gain ({@code sum of dy * n} over rows) and of the bias ({@code sum of dy}), into
     * {@code dGain} and {@code dBias}. Row statistics and the sums over rows are kept in double.
     */
    static void layerNormGradient(INDArray x, float[] gain, INDArray dy, float eps, INDArray dx, INDArray dGain,
            INDArray dBias) {
        int h = gain.length;
        double[] sums = rowsInto(x, dy, dx, h, 2 * h, 2 * h, (xr, gr, s, scratch) -> {
            // scratch: the normalised row, then dn; s: the gain's sums, then the bias's
            for (int j = 0; j < h; j++) {
                scratch[j] = xr[j];
                scratch[h + j] = (double) gr[j] * gain[j];
            }
            double mean = sum(scratch, 0, null, h) / h;
            for (int j = 0; j < h; j++) {
                scratch[j] -= mean;
            }
            double inv = 1.0 / Math.sqrt(sum(scratch, 0, scratch, h) / h + eps);
            for (int j = 0; j < h; j++) {
                scratch[j] *= inv;
                s[j] += gr[j] * scratch[j];
                s[h + j] += gr[j];
            }
            double dnMean = sum(scratch, h, null, h) / h;
            double dnDotN = sum(scratch, h, scratch, h) / h;
            for (int j = 0; j < h; j++) {
                xr[j] = (float) (inv * (scratch[h + j] - dnMean - scratch[j] * dnDotN));
            }
        });
        float[] g = new float[h];
        float[] bias = new float[h];
        for (int j = 0; j < h; j++) {
            g[j] = (float) sums[j];
            bias[j] = (float) sums[h + j];
        }
        dGain.assign(Nd4j.createFromArray(g).reshape(dGain.shape()));
        dBias.assign(Nd4j.createFromArray(bias).reshape(dBias.shape()));
    }

    /**
     * Softmax's input gradient over the last axis from its output {@code y} and the incoming
     * gradient {@code dy}: {@code dx = y * (dy - sum(dy * y))} per row of {@code h}, into {@code dx}.
     * From the output, so nothing is exponentiated again (libnd4j's gradient op recomputes the
     * softmax from the input).
     */
    static void softmaxGradient(INDArray y, INDArray dy, INDArray dx, int h) {
        rowsInto(y, dy, dx, h, 0, h, (yr, gr, s, scratch) -> {
            for (int j = 0; j < h; j++) {
                scratch[j] = (double) yr[j] * gr[j];
            }
            double dot = sum(scratch, 0, null, h);
            for (int j = 0; j < h; j++) {
                yr[j] = (float) (yr[j] * (gr[j] - dot));
            }
        });
    }

    /** One row of two inputs, the result left in {@code a}; {@code sums} are the block's accumulators. */
    @FunctionalInterface
    private interface RowOp {
        void apply(float[] a, float[] b, double[] sums, double[] scratch);
    }

    /**
     * Runs {@code op} over the rows ({@code h} floats each) of {@code a} and {@code b}, both of
     * {@code out}'s shape, writing each result row to {@code out}. Rows run in blocks on both cores,
     * each block with {@code accumulators} sums of its own (returned added up) and a scratch of
     * {@code scratch} doubles.
     */
    private static double[] rowsInto(INDArray a, INDArray b, INDArray out, int h, int accumulators, int scratch,
            RowOp op) {
        INDArray as = isRowMajor(a) ? a : a.dup('c');
        INDArray bs = isRowMajor(b) ? b : b.dup('c');
        INDArray os = isRowMajor(out) ? out : Nd4j.createUninitialized(DataType.FLOAT, out.shape(), 'c');
        long rows = h == 0 ? 0 : as.length() / h;
        FloatBuffer ab = as.data().asNioFloat();
        FloatBuffer bb = bs.data().asNioFloat();
        FloatBuffer ob = os.data().asNioFloat();
        int aBase = ab.position() + (int) as.offset();
        int bBase = bb.position() + (int) bs.offset();
        int oBase = ob.position() + (int) os.offset();
        int blocks = (int) Math.max(1, Math.min(rows, rows * h / CHUNK));
        double[][] sums = new double[blocks][];
        IntStream work = IntStream.range(0, blocks);
        (rows * h >= PARALLEL_FROM ? work.parallel() : work).forEach(k -> {
            float[] ar = new float[h];
            float[] br = new float[h];
            double[] s = new double[accumulators];
            double[] t = new double[scratch];
            for (long r = rows * k / blocks; r < rows * (k + 1) / blocks; r++) {
                int o = (int) (r * h);
                ab.get(aBase + o, ar, 0, h);
                bb.get(bBase + o, br, 0, h);
                op.apply(ar, br, s, t);
                ob.put(oBase + o, ar, 0, h);
            }
            sums[k] = s;
        });
        if (os != out) {
            out.assign(os);
        }
        double[] total = new double[accumulators];
        for (double[] s : sums) {
            for (int j = 0; j < accumulators; j++) {
                total[j] += s[j];
            }
        }
        return total;
    }

    private static void normalizeRow(float[] f, int o, int h, float[] gain, float[] bias, float eps) {
        // four independent sums: one running sum would wait on every add's latency
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        int j = 0;
        for (; j + 3 < h; j += 4) {
            s0 += f[o + j];
            s1 += f[o + j + 1];
            s2 += f[o + j + 2];
            s3 += f[o + j + 3];
        }
        for (; j < h; j++) {
            s0 += f[o + j];
        }
        double mean = (s0 + s1 + s2 + s3) / h;
        s0 = 0;
        s1 = 0;
        s2 = 0;
        s3 = 0;
        j = 0;
        for (; j + 3 < h; j += 4) {
            double d0 = f[o + j] - mean;
            double d1 = f[o + j + 1] - mean;
            double d2 = f[o + j + 2] - mean;
            double d3 = f[o + j + 3] - mean;
            s0 += d0 * d0;
            s1 += d1 * d1;
            s2 += d2 * d2;
            s3 += d3 * d3;
        }
        for (; j < h; j++) {
            double d = f[o + j] - mean;
            s0 += d * d;
        }
        float m = (float) mean;
        float inv = (float) (1.0 / Math.sqrt((s0 + s1 + s2 + s3) / h + eps));
        for (int k = 0; k < h; k++) {
            f[o + k] = (f[o + k] - m) * inv * gain[k] + bias[k];
        }
    }

    /**
     * {@code sum of a[from + j] * b[j]} (of {@code a[from + j]} when {@code b} is null) over {@code j in [0, h)}, in
     * four independent sums: one running sum would wait on every add's latency.
     */
    private static double sum(double[] a, int from, double[] b, int h) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        int j = 0;
        if (b == null) {
            for (; j + 3 < h; j += 4) {
                s0 += a[from + j];
                s1 += a[from + j + 1];
                s2 += a[from + j + 2];
                s3 += a[from + j + 3];
            }
            for (; j < h; j++) {
                s0 += a[from + j];
            }
        } else {
            for (; j + 3 < h; j += 4) {
                s0 += a[from + j] * b[j];
                s1 += a[from + j + 1] * b[j + 1];
                s2 += a[from + j + 2] * b[j + 2];
                s3 += a[from + j + 3] * b[j + 3];
            }
            for (; j < h; j++) {
                s0 += a[from + j] * b[j];
            }
        }
        return s0 + s1 + s2 + s3;
    }

    private static float[] scratch(int size) {
        float[][] holder = SCRATCH.get();
        if (holder[0].length < size) {
            holder[0] = new float[size];
        }
        return holder[0];
    }
}
