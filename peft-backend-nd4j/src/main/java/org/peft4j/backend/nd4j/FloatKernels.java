package org.peft4j.backend.nd4j;

import java.nio.FloatBuffer;
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
        INDArray in = dense(x);
        INDArray out = Nd4j.createUninitialized(DataType.FLOAT, x.shape(), 'c');
        long n = in.length();
        if (n == 0) {
            return out;
        }
        FloatBuffer src = in.data().asNioFloat();
        FloatBuffer dst = out.data().asNioFloat();
        int srcBase = src.position();
        int dstBase = dst.position();
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
        return out;
    }

    /**
     * Layer norm over the last axis of {@code x} (FLOAT): {@code (x - mean) / sqrt(var + eps) * gain
     * + bias} per row, with the biased variance of the centred row; mean and variance are summed in
     * double. libnd4j's composed ops made seven passes over the data; this makes three over a row
     * that stays in L1.
     */
    static INDArray layerNorm(INDArray x, float[] gain, float[] bias, float eps) {
        int h = gain.length;
        int rowsPerChunk = Math.max(1, CHUNK / h);
        return map(x, rowsPerChunk * h, (f, len) -> {
            for (int o = 0; o < len; o += h) {
                normalizeRow(f, o, h, gain, bias, eps);
            }
        });
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

    /** {@code x} itself when its elements lie in one dense row-major run, else a copy that does. */
    private static INDArray dense(INDArray x) {
        return Nd4jTensor.isPlain(x) ? x : x.dup('c');
    }

    private static float[] scratch(int size) {
        float[][] holder = SCRATCH.get();
        if (holder[0].length < size) {
            holder[0] = new float[size];
        }
        return holder[0];
    }
}
