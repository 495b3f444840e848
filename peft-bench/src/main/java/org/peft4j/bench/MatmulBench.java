package org.peft4j.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.peft4j.core.Peft;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;

/**
 * Square float matrix products, n = 1024 (2 n^3 = 2.15 GFLOP each): through each peft4j backend
 * and straight on the engines (PyTorch's sgemm, and ND4J's: MKL on Intel CPUs, else OpenBLAS, as
 * the ND4J backend chooses), the machine's sgemm peak in the same run. GFLOP/s = 2.147 / (ms per op) * 1000.
 */
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 8, time = 2)
public class MatmulBench extends BenchDefaults {
    private static final int N = 1024;

    @Param({"peft-djl", "peft-nd4j", "raw-pytorch", "raw-nd4j-blas"})
    public String impl;

    private Backend b;
    private Tensor x;
    private Tensor y;
    private NDManager manager;
    private NDArray dx;
    private NDArray dy;
    private INDArray nx;
    private INDArray ny;

    @Setup
    public void setUp() {
        float[] a = MiniLmBatch.gaussian(N * N, 1);
        float[] c = MiniLmBatch.gaussian(N * N, 2);
        switch (impl) {
            case "peft-djl", "peft-nd4j" -> {
                b = Peft.backend(impl.substring(5));
                x = b.keep(b.fromFloats(a, N, N));
                y = b.keep(b.fromFloats(c, N, N));
            }
            case "raw-pytorch" -> {
                manager = NDManager.newBaseManager("PyTorch");
                dx = manager.create(a, new Shape(N, N));
                dy = manager.create(c, new Shape(N, N));
            }
            default -> {
                b = Peft.backend("nd4j"); // loads ND4J with the BLAS the backend runs on
                nx = Nd4j.create(a, new long[] {N, N}, 'c');
                ny = Nd4j.create(c, new long[] {N, N}, 'c');
            }
        }
    }

    @Benchmark
    public float matmul() {
        switch (impl) {
            case "raw-pytorch" -> {
                try (NDArray z = dx.matMul(dy)) {
                    return z.getFloat(0, 0);
                }
            }
            case "raw-nd4j-blas" -> {
                // the call peft4j's ND4J backend makes for a 2-D product
                INDArray z = Nd4j.gemm(nx, ny, false, false);
                float v = z.getFloat(0, 0);
                z.close();
                return v;
            }
            default -> {
                try (org.peft4j.api.backend.Scope s = b.scope()) {
                    return x.matmul(y).slice(0, 0, 1).slice(1, 0, 1).item();
                }
            }
        }
    }

    @TearDown
    public void tearDown() {
        if (b != null) {
            b.close();
        }
        if (manager != null) {
            manager.close();
        }
    }
}
