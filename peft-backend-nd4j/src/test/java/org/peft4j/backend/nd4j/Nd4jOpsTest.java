package org.peft4j.backend.nd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.DType;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** Values, shapes, broadcasting and error messages of the ND4J tensor operations. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class Nd4jOpsTest {
    private Nd4jBackend backend;

    @BeforeAll
    void open() {
        backend = (Nd4jBackend) new Nd4jBackendProvider().create();
    }

    @AfterAll
    void close() {
        backend.close();
    }

    private Tensor t(float[] v, long... shape) {
        return backend.fromFloats(v, shape);
    }

    private static float[] iota(int n, float start) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = start + i;
        }
        return v;
    }

    // ---------------------------------------------------------------- erf and GELU

    /**
     * Eager erf and GELU (computed by {@link ErfKernel}, not libnd4j) are within one float ulp of
     * the exact values over [-6, 6] (GELU's far negative tail: within |x| x 2^-24), on both the
     * one-thread path and the parallel path for large arrays; they keep NaN and infinities, GELU
     * of large negative inputs stays at its limit 0, and views read as their elements.
     */
    @Test
    void erfAndGeluAreWithinOneUlpOfExact() {
        int n = 120_001;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = -6f + i * 1e-4f;
        }
        for (int len : new int[] {1_001, n}) {
            float[] v = java.util.Arrays.copyOf(x, len);
            if (len < n) {
                for (int i = 0; i < len; i++) {
                    v[i] = x[i * 119];
                }
            }
            try (Scope s = backend.scope()) {
                float[] erf = t(v, len).erf().toFloatArray();
                float[] gelu = t(v, len).gelu().toFloatArray();
                for (int i = 0; i < len; i++) {
                    double e = Reference.erf(v[i]);
                    double g = 0.5 * v[i] * (1 + Reference.erf(v[i] / Math.sqrt(2)));
                    assertThat((double) erf[i]).as("erf(%s)", v[i]).isCloseTo(e, within((double) Math.ulp((float) e)));
                    // in the far negative tail 1 + erf cancels: any float GELU is off by ~|x| ulp(1) there
                    assertThat((double) gelu[i]).as("gelu(%s)", v[i])
                            .isCloseTo(g, within(Math.max(Math.ulp((float) g), Math.abs(v[i]) * 0x1p-24)));
                }
            }
        }
        try (Scope s = backend.scope()) {
            float[] special = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f};
            assertThat(t(special, 5).erf().toFloatArray()).containsExactly(Float.NaN, 1f, -1f, 0f, -0f);
            assertThat(t(special, 5).gelu().toFloatArray()).usingComparatorWithPrecision(5e-8f)
                    .containsExactly(Float.NaN, Float.POSITIVE_INFINITY, 0f, 0f, -0f);
            // large negative inputs (outliers) stay at GELU's limit 0, not a value growing with |x|
            assertThat(t(new float[] {-10f, -1e3f, -1e30f, -Float.MAX_VALUE}, 4).gelu().toFloatArray())
                    .usingComparatorWithPrecision(5e-8f).containsOnly(0f);
            float tiny = 1e-30f;
            assertThat(t(new float[] {tiny}, 1).erf().toFloatArray()[0])
                    .isCloseTo((float) (tiny * 2 / Math.sqrt(Math.PI)), within(Math.ulp(tiny)));
            Tensor m = t(iota(12, -6f), 3, 4).div(2f);
            assertThat(m.transposeLast2().gelu().toFloatArray())
                    .containsExactly(m.gelu().transposeLast2().toFloatArray());
        }
    }

    /**
     * The GELU kernels of recorded graphs write an operation's output array whatever its layout:
     * row- or column-major, row-major strides under ND4J's 'f' flag (a product's output), or a
     * strided view (written in place, its neighbours untouched), from inputs of either order.
     */
    @Test
    void geluKernelsWriteOutputsOfAnyLayout() {
        INDArray x = Nd4j.linspace(-5, 6, 12, DataType.FLOAT).reshape('c', 3, 4);
        INDArray expected = ErfKernel.gelu(x);
        for (INDArray in : List.of(x, x.dup('f'))) {
            for (char order : new char[] {'c', 'f'}) {
                INDArray out = Nd4j.createUninitialized(DataType.FLOAT, new long[] {3, 4}, order);
                ErfKernel.geluInto(in, out);
                assertThat(out).isEqualTo(expected);
            }
            INDArray wide = Nd4j.zeros(DataType.FLOAT, 3, 6);
            ErfKernel.geluInto(in, wide.get(NDArrayIndex.all(), NDArrayIndex.interval(1, 5)));
            assertThat(wide.get(NDArrayIndex.all(), NDArrayIndex.interval(1, 5))).isEqualTo(expected);
            assertThat(wide.getColumn(0).sumNumber().floatValue()).isZero();
            assertThat(wide.getColumn(5).sumNumber().floatValue()).isZero();
        }
    }

    // ---------------------------------------------------------------- layer norm

    /**
     * Eager layer norm (computed by {@link FloatKernels}, not libnd4j) against the textbook formula
     * in double: rows narrower and wider than a kernel chunk, widths that are not a multiple of 4,
     * enough rows for both cores, a transposed (strided) input, a constant row.
     */
    @ParameterizedTest(name = "{0} rows x {1}")
    @CsvSource({"1, 1", "3, 7", "5000, 384", "2, 5001", "70, 4097"})
    void layerNormMatchesTheFormulaInDouble(int rows, int width) {
        java.util.Random r = new java.util.Random(rows * 31L + width);
        float[] x = new float[rows * width];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextGaussian() * 3 + 10);
        }
        float[] gain = new float[width];
        float[] bias = new float[width];
        for (int j = 0; j < width; j++) {
            gain[j] = (float) r.nextGaussian();
            bias[j] = (float) r.nextGaussian();
        }
        float eps = 1e-5f;
        try (Scope s = backend.scope()) {
            float[] got = t(x, rows, width).layerNorm(t(gain, width), t(bias, width), eps).toFloatArray();
            for (int i = 0; i < rows; i++) {
                double mean = 0;
                for (int j = 0; j < width; j++) {
                    mean += x[i * width + j];
                }
                mean /= width;
                double var = 0;
                for (int j = 0; j < width; j++) {
                    var += (x[i * width + j] - mean) * (x[i * width + j] - mean);
                }
                double inv = 1 / Math.sqrt(var / width + eps);
                for (int j = 0; j < width; j++) {
                    double want = (x[i * width + j] - mean) * inv * gain[j] + bias[j];
                    assertThat((double) got[i * width + j]).as("row %d, column %d", i, j)
                            .isCloseTo(want, within(2e-5 * (1 + Math.abs(want))));
                }
            }
            // a transposed input is read in its logical order
            Tensor xt = t(x, width, rows).transposeLast2();
            float[] fromView = xt.layerNorm(t(gain, width), t(bias, width), eps).toFloatArray();
            float[] fromCopy = t(xt.toFloatArray(), rows, width).layerNorm(t(gain, width), t(bias, width), eps)
                    .toFloatArray();
            // isEqualTo, not containsExactly: AssertJ's element diff is quadratic in the length
            assertThat(fromView).isEqualTo(fromCopy);
            // a constant row normalizes to the bias (its variance is 0: eps keeps it finite)
            float[] constant = new float[width];
            java.util.Arrays.fill(constant, 4f);
            assertThat(t(constant, 1, width).layerNorm(t(gain, width), t(bias, width), eps).toFloatArray())
                    .isEqualTo(bias);
        }
    }

    // ---------------------------------------------------------------- broadcasting

    /** Pairs of shapes that broadcast, up to rank 4, including rank 0 and size-1 axes on either side. */
    static List<long[][]> broadcastCases() {
        return List.of(
                new long[][] {{2, 3, 4}, {4}},
                new long[][] {{4}, {2, 3, 4}},
                new long[][] {{2, 1, 4}, {2, 3, 1}},
                new long[][] {{3, 1}, {4}},
                new long[][] {{4}, {3, 1}},
                new long[][] {{2, 1, 3}, {2, 1}},
                new long[][] {{5, 1, 4}, {2, 1, 3, 1}},
                new long[][] {{2, 2, 3, 4}, {2, 1, 1, 4}},
                new long[][] {{1, 3, 1, 2}, {4, 1, 5, 1}},
                new long[][] {{2, 3}, {}},
                new long[][] {{}, {2, 3}},
                new long[][] {{2, 3}, {2, 3}},
                new long[][] {{1}, {3, 2}});
    }

    @ParameterizedTest
    @MethodSource("broadcastCases")
    void binaryOpsBroadcastLikeNumpy(long[][] shapes) {
        long[] sa = shapes[0];
        long[] sb = shapes[1];
        float[] va = iota((int) Reference.numel(sa), 1);
        float[] vb = iota((int) Reference.numel(sb), 2);
        try (Scope s = backend.scope()) {
            Tensor a = t(va, sa);
            Tensor b = t(vb, sb);
            long[] expectedShape = Reference.broadcastShape(sa, sb);
            float[] add = Reference.broadcast(va, sa, vb, sb, (x, y) -> x + y);
            float[] sub = Reference.broadcast(va, sa, vb, sb, (x, y) -> x - y);
            float[] mul = Reference.broadcast(va, sa, vb, sb, (x, y) -> x * y);
            float[] div = Reference.broadcast(va, sa, vb, sb, (x, y) -> x / y);
            assertThat(a.add(b).shape()).containsExactly(expectedShape);
            assertThat(a.add(b).toFloatArray()).containsExactly(add);
            assertThat(a.sub(b).toFloatArray()).containsExactly(sub);
            assertThat(a.mul(b).toFloatArray()).containsExactly(mul);
            assertThat(a.div(b).toFloatArray()).usingComparatorWithPrecision(1e-6f).containsExactly(div);
            assertThat(a.toFloatArray()).containsExactly(va);
            assertThat(b.toFloatArray()).containsExactly(vb);
        }
    }

    @Test
    void incompatibleShapesNameBoth() {
        try (Scope s = backend.scope()) {
            Tensor a = t(iota(6, 0), 2, 3);
            Tensor b = t(iota(4, 0), 4);
            assertThatThrownBy(() -> a.add(b)).isInstanceOf(PeftException.class)
                    .hasMessageContaining("[2, 3]").hasMessageContaining("[4]");
            assertThatThrownBy(() -> a.matmul(t(iota(4, 0), 2, 2))).isInstanceOf(PeftException.class)
                    .hasMessageContaining("[2, 3]").hasMessageContaining("[2, 2]");
        }
    }

    // ---------------------------------------------------------------- element-wise values

    @Test
    void scalarAndUnaryOpsHaveHandComputedValues() {
        try (Scope s = backend.scope()) {
            Tensor a = t(new float[] {-2, -0.5f, 0, 1, 4}, 5);
            assertThat(a.add(1.5f).toFloatArray()).usingComparatorWithPrecision(0f).containsExactly(-0.5f, 1, 1.5f, 2.5f, 5.5f);
            assertThat(a.sub(1f).toFloatArray()).usingComparatorWithPrecision(0f).containsExactly(-3, -1.5f, -1, 0, 3);
            assertThat(a.mul(-2f).toFloatArray()).usingComparatorWithPrecision(0f).containsExactly(4, 1, -0f, -2, -8);
            assertThat(a.div(2f).toFloatArray()).usingComparatorWithPrecision(0f).containsExactly(-1, -0.25f, 0, 0.5f, 2);
            assertThat(a.neg().toFloatArray()).usingComparatorWithPrecision(0f).containsExactly(2, 0.5f, -0f, -1, -4);
            assertThat(a.abs().toFloatArray()).usingComparatorWithPrecision(0f).containsExactly(2, 0.5f, 0, 1, 4);
            assertThat(a.relu().toFloatArray()).usingComparatorWithPrecision(0f).containsExactly(0, 0, 0, 1, 4);
            assertThat(a.square().toFloatArray()).usingComparatorWithPrecision(0f).containsExactly(4, 0.25f, 0, 1, 16);
            assertThat(a.abs().sqrt().toFloatArray()).usingComparatorWithPrecision(1e-6f)
                    .containsExactly(1.4142135f, 0.70710677f, 0, 1, 2);
            assertThat(a.abs().pow(1.5f).toFloatArray()).usingComparatorWithPrecision(1e-5f)
                    .containsExactly(2.828427f, 0.35355338f, 0, 1, 8);
            assertThat(a.exp().toFloatArray()).usingComparatorWithPrecision(1e-5f)
                    .containsExactly(0.13533528f, 0.60653067f, 1, 2.7182817f, 54.59815f);
            assertThat(t(new float[] {1, 2.7182817f, 0.5f}, 3).log().toFloatArray()).usingComparatorWithPrecision(1e-6f)
                    .containsExactly(0, 1, -0.6931472f);
            assertThat(a.tanh().toFloatArray()).usingComparatorWithPrecision(1e-6f)
                    .containsExactly(-0.9640276f, -0.46211717f, 0, 0.7615942f, 0.9993293f);
            assertThat(a.sigmoid().toFloatArray()).usingComparatorWithPrecision(1e-6f)
                    .containsExactly(0.11920292f, 0.37754068f, 0.5f, 0.7310586f, 0.98201376f);
            assertThat(a.erf().toFloatArray()).usingComparatorWithPrecision(1e-6f)
                    .containsExactly(-0.9953223f, -0.5204999f, 0, 0.8427008f, 1f);
            assertThat(a.gelu().toFloatArray()).usingComparatorWithPrecision(1e-6f)
                    .containsExactly(-0.04550027f, -0.15426877f, 0, 0.8413447f, 3.9998734f);
        }
    }

    @Test
    void int64TensorsStayIntegralForIntegralScalarsAndPromoteOtherwise() {
        try (Scope s = backend.scope()) {
            Tensor ids = backend.fromLongs(new long[] {1, 2, 3}, 3);
            Tensor plus = ids.add(2f);
            assertThat(plus.dtype()).isEqualTo(DType.INT64);
            assertThat(plus.toLongArray()).containsExactly(3, 4, 5);
            assertThat(ids.mul(0.5f).dtype()).isEqualTo(DType.FLOAT32);
            assertThat(ids.mul(0.5f).toFloatArray()).containsExactly(0.5f, 1, 1.5f);
            Tensor mixed = ids.add(t(new float[] {0.5f, 0.5f, 0.5f}, 3));
            assertThat(mixed.dtype()).isEqualTo(DType.FLOAT32);
            assertThat(mixed.toFloatArray()).containsExactly(1.5f, 2.5f, 3.5f);
            assertThat(ids.sum(false).toLongArray()).containsExactly(6);
            assertThat(ids.mean(false).item()).isEqualTo(2f);
            assertThat(ids.toLongArray()).containsExactly(1, 2, 3);
        }
    }

    // ---------------------------------------------------------------- reductions

    @Test
    void reductionsHandleAxesKeepDimsNegativeAxesAndAll() {
        try (Scope s = backend.scope()) {
            Tensor a = t(iota(24, 1), 2, 3, 4);
            assertThat(a.sum(false).shape()).isEmpty();
            assertThat(a.sum(false).item()).isEqualTo(300f);
            assertThat(a.sum(true).shape()).containsExactly(1, 1, 1);
            assertThat(a.sum(true).item()).isEqualTo(300f);
            assertThat(a.mean(false).item()).isEqualTo(12.5f);
            assertThat(a.sum(false, -1).shape()).containsExactly(2, 3);
            assertThat(a.sum(false, -1).toFloatArray()).containsExactly(10, 26, 42, 58, 74, 90);
            assertThat(a.sum(false, 2, 0).toFloatArray()).containsExactly(68, 100, 132);
            assertThat(a.sum(false, 0, -1).toFloatArray()).containsExactly(68, 100, 132);
            assertThat(a.mean(true, 0, 2).shape()).containsExactly(1, 3, 1);
            assertThat(a.mean(true, 0, 2).toFloatArray()).containsExactly(8.5f, 12.5f, 16.5f);
            assertThat(a.max(1, false).toFloatArray()).containsExactly(9, 10, 11, 12, 21, 22, 23, 24);
            assertThat(a.max(-1, true).shape()).containsExactly(2, 3, 1);
            assertThat(a.max(-1, true).toFloatArray()).containsExactly(4, 8, 12, 16, 20, 24);
            Tensor scalar = t(new float[] {5}, new long[0]);
            assertThat(scalar.sum(false).item()).isEqualTo(5f);
            assertThat(scalar.mean(true).shape()).isEmpty();
            assertThatThrownBy(() -> a.sum(false, 3)).isInstanceOf(PeftException.class).hasMessageContaining("axis 3");
            assertThatThrownBy(() -> a.max(-4, false)).isInstanceOf(PeftException.class).hasMessageContaining("-4");
        }
    }

    // ---------------------------------------------------------------- shape ops

    @Test
    void shapeOperationsCopyAndValidate() {
        try (Scope s = backend.scope()) {
            Tensor a = t(iota(24, 0), 2, 3, 4);
            assertThat(a.reshape(4, -1).shape()).containsExactly(4, 6);
            assertThat(a.reshape(-1).toFloatArray()).containsExactly(iota(24, 0));
            assertThat(a.reshape(2, 3, 4).toFloatArray()).containsExactly(iota(24, 0));
            assertThatThrownBy(() -> a.reshape(5, -1)).isInstanceOf(PeftException.class)
                    .hasMessageContaining("[2, 3, 4]").hasMessageContaining("[5, -1]");
            assertThatThrownBy(() -> a.reshape(-1, -1)).isInstanceOf(PeftException.class);

            Tensor p = a.permute(2, 0, 1);
            assertThat(p.shape()).containsExactly(4, 2, 3);
            assertThat(p.toFloatArray()).startsWith(0, 4, 8, 12, 16, 20, 1, 5);
            assertThat(a.permute(-1, 0, 1).shape()).containsExactly(4, 2, 3);
            assertThatThrownBy(() -> a.permute(0, 0, 1)).isInstanceOf(PeftException.class);
            assertThat(a.transposeLast2().shape()).containsExactly(2, 4, 3);
            assertThat(a.transposeLast2().toFloatArray()).startsWith(0, 4, 8, 1, 5, 9);

            Tensor sl = a.slice(1, 1, 3);
            assertThat(sl.shape()).containsExactly(2, 2, 4);
            assertThat(sl.toFloatArray()).containsExactly(4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23);
            assertThat(a.slice(-1, 3, 4).toFloatArray()).containsExactly(3, 7, 11, 15, 19, 23);
            assertThat(a.slice(0, 0, 2).toFloatArray()).containsExactly(iota(24, 0));
            assertThat(a.slice(2, 1, 1).shape()).containsExactly(2, 3, 0);
            assertThatThrownBy(() -> a.slice(1, 2, 4)).isInstanceOf(PeftException.class).hasMessageContaining("size 3");

            Tensor c = backend.concat(List.of(a.slice(1, 0, 1), a.slice(1, 2, 3)), 1);
            assertThat(c.shape()).containsExactly(2, 2, 4);
            assertThat(c.toFloatArray()).containsExactly(0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23);
            assertThat(backend.concat(List.of(a), -1).toFloatArray()).containsExactly(iota(24, 0));
            assertThatThrownBy(() -> backend.concat(List.of(a, t(iota(4, 0), 1, 4)), 0))
                    .isInstanceOf(PeftException.class).hasMessageContaining("[1, 4]");
        }
    }

    @Test
    void typesMasksAndDetach() {
        try (Scope s = backend.scope()) {
            Tensor a = t(new float[] {-1.7f, 0.2f, 2.9f}, 3);
            Tensor ints = a.toType(DType.INT64);
            assertThat(ints.dtype()).isEqualTo(DType.INT64);
            assertThat(ints.toLongArray()).containsExactly(-1, 0, 2);
            assertThat(ints.toType(DType.FLOAT32).toFloatArray()).containsExactly(-1, 0, 2);
            assertThat(a.toType(DType.FLOAT32).toFloatArray()).containsExactly(-1.7f, 0.2f, 2.9f);
            Tensor mask = a.greaterThan(0.1f);
            assertThat(mask.dtype()).isEqualTo(DType.FLOAT32);
            assertThat(mask.toFloatArray()).containsExactly(0, 1, 1);
            assertThat(a.detach().toFloatArray()).containsExactly(-1.7f, 0.2f, 2.9f);
            assertThat(backend.fromLongs(new long[] {7, -3}, 2, 1).toFloatArray()).containsExactly(7, -3);
            assertThat(backend.fromLongs(new long[] {9}).shape()).isEmpty();
            assertThat(backend.zeros(2, 0).numel()).isZero();
        }
    }

    @Test
    void constructorsValidateTheirShapes() {
        assertThatThrownBy(() -> backend.fromFloats(new float[5], 2, 3)).isInstanceOf(PeftException.class)
                .hasMessageContaining("[2, 3]").hasMessageContaining("5");
        assertThatThrownBy(() -> backend.fromLongs(new long[] {1, 2}, 3)).isInstanceOf(PeftException.class)
                .hasMessageContaining("[3]").hasMessageContaining("2");
        assertThatThrownBy(() -> backend.full(1f, 2, -1)).isInstanceOf(PeftException.class)
                .hasMessageContaining("[2, -1]");
    }

    @Test
    void randomUniformIsSeededAndInRange() {
        try (Scope s = backend.scope()) {
            backend.seed(1234);
            float[] first = backend.randomUniform(2000).toFloatArray();
            backend.seed(1234);
            float[] again = backend.randomUniform(2000).toFloatArray();
            backend.seed(99);
            float[] other = backend.randomUniform(2000).toFloatArray();
            assertThat(again).containsExactly(first);
            assertThat(other).isNotEqualTo(first);
            double mean = 0;
            for (float v : first) {
                assertThat(v).isGreaterThanOrEqualTo(0f).isLessThan(1f);
                mean += v / first.length;
            }
            assertThat(mean).isBetween(0.45, 0.55);
            assertThat(backend.randomUniform(2, 3).shape()).containsExactly(2, 3);
        }
    }

    // ---------------------------------------------------------------- linear algebra

    @Test
    void matmulCoversBatchedBroadcastAnd2dWeights() {
        try (Scope s = backend.scope()) {
            // (B, H, T, D) @ (B, H, D, T)
            float[] q = Reference.randoms(2 * 3 * 4 * 5, 1);
            float[] k = Reference.randoms(2 * 3 * 5 * 4, 2);
            Tensor scores = t(q, 2, 3, 4, 5).matmul(t(k, 2, 3, 5, 4));
            assertThat(scores.shape()).containsExactly(2, 3, 4, 4);
            float[] ref = new float[2 * 3 * 4 * 4];
            for (int b = 0; b < 6; b++) {
                float[] r = Reference.matmul(slice(q, b * 20, 20), slice(k, b * 20, 20), 4, 5, 4);
                System.arraycopy(r, 0, ref, b * 16, 16);
            }
            assertThat(Reference.maxAbsDiff(scores.toFloatArray(), ref)).isLessThan(1e-5f);

            // (B, T, in) @ (in, out)
            float[] x = Reference.randoms(3 * 4 * 6, 3);
            float[] w = Reference.randoms(6 * 2, 4);
            Tensor y = t(x, 3, 4, 6).matmul(t(w, 6, 2));
            assertThat(y.shape()).containsExactly(3, 4, 2);
            assertThat(Reference.maxAbsDiff(y.toFloatArray(), Reference.matmul(x, w, 12, 6, 2))).isLessThan(1e-5f);

            // broadcast batch axes: (2, 1, 3, 4) @ (3, 4, 5) -> (2, 3, 3, 5), and (3, 4) @ (2, 4, 5)
            float[] a = Reference.randoms(2 * 3 * 4, 5);
            float[] bm = Reference.randoms(3 * 4 * 5, 6);
            Tensor z = t(a, 2, 1, 3, 4).matmul(t(bm, 3, 4, 5));
            assertThat(z.shape()).containsExactly(2, 3, 3, 5);
            float[] zs = z.toFloatArray();
            for (int i = 0; i < 2; i++) {
                for (int j = 0; j < 3; j++) {
                    float[] r = Reference.matmul(slice(a, i * 12, 12), slice(bm, j * 20, 20), 3, 4, 5);
                    assertThat(Reference.maxAbsDiff(slice(zs, (i * 3 + j) * 15, 15), r)).isLessThan(1e-5f);
                }
            }
            Tensor v = t(slice(a, 0, 12), 3, 4).matmul(t(slice(bm, 0, 40), 2, 4, 5));
            assertThat(v.shape()).containsExactly(2, 3, 5);
            assertThat(Reference.maxAbsDiff(slice(v.toFloatArray(), 15, 15),
                    Reference.matmul(slice(a, 0, 12), slice(bm, 20, 20), 3, 4, 5))).isLessThan(1e-5f);
            assertThatThrownBy(() -> t(a, 24).matmul(t(bm, 60))).isInstanceOf(PeftException.class);
        }
    }

    @Test
    void linearMatchesMatmulPlusBiasForAnyLeadingShape() {
        try (Scope s = backend.scope()) {
            float[] x = Reference.randoms(2 * 3 * 4, 7);
            float[] w = Reference.randoms(5 * 4, 8);
            float[] b = Reference.randoms(5, 9);
            Tensor wt = t(w, 5, 4);
            float[] ref = t(x, 6, 4).matmul(wt.transposeLast2()).add(t(b, 5)).toFloatArray();
            Tensor y = t(x, 2, 3, 4).linear(wt, t(b, 5));
            assertThat(y.shape()).containsExactly(2, 3, 5);
            assertThat(Reference.maxAbsDiff(y.toFloatArray(), ref)).isLessThan(1e-5f);
            Tensor noBias = t(x, 6, 4).linear(wt, null);
            assertThat(noBias.shape()).containsExactly(6, 5);
            assertThat(t(slice(x, 0, 4), 4).linear(wt, t(b, 5)).shape()).containsExactly(5);
            assertThatThrownBy(() -> t(x, 4, 6).linear(wt, null)).isInstanceOf(PeftException.class)
                    .hasMessageContaining("[4, 6]").hasMessageContaining("[5, 4]");
            assertThatThrownBy(() -> t(x, 6, 4).linear(wt, t(b, 1, 5).reshape(5).slice(0, 0, 3)))
                    .isInstanceOf(PeftException.class).hasMessageContaining("bias");
        }
    }

    @Test
    void softmaxIsNativeStableAndAlongAnyAxis() {
        try (Scope s = backend.scope()) {
            Tensor a = t(new float[] {1, 2, 3, 1000, 1000, 1000}, 2, 3);
            assertThat(a.softmax(-1).toFloatArray()).usingComparatorWithPrecision(1e-6f)
                    .containsExactly(0.09003057f, 0.24472848f, 0.66524094f, 1 / 3f, 1 / 3f, 1 / 3f);
            assertThat(a.softmax(0).toFloatArray()).usingComparatorWithPrecision(1e-6f)
                    .containsExactly(0, 0, 0, 1, 1, 1);
            assertThat(a.logSoftmax(0).toFloatArray()[3]).isCloseTo(0f, within(1e-6f));
            assertThat(a.logSoftmax(-1).toFloatArray()[0]).isCloseTo(-2.407606f, within(1e-5f));
        }
    }

    @Test
    void gatherLooksUpRowsForAnyIndexShape() {
        try (Scope s = backend.scope()) {
            Tensor table = t(iota(8, 0), 4, 2);
            Tensor rows = table.gather(backend.fromLongs(new long[] {3, 1, 1, 0, 2, 3}, 2, 3));
            assertThat(rows.shape()).containsExactly(2, 3, 2);
            assertThat(rows.toFloatArray()).containsExactly(6, 7, 2, 3, 2, 3, 0, 1, 4, 5, 6, 7);
            assertThat(table.gather(backend.fromLongs(new long[] {2}, 1)).toFloatArray()).containsExactly(4, 5);
            assertThat(table.gather(t(new float[] {1, 0}, 2)).toFloatArray()).containsExactly(2, 3, 0, 1);
            assertThatThrownBy(() -> table.gather(backend.fromLongs(new long[] {4}, 1)))
                    .isInstanceOf(PeftException.class).hasMessageContaining("index 4").hasMessageContaining("4 rows");
            assertThatThrownBy(() -> t(iota(8, 0), 2, 2, 2).gather(backend.fromLongs(new long[] {0}, 1)))
                    .isInstanceOf(PeftException.class).hasMessageContaining("2-D");
        }
    }

    @Test
    void linearOfABertSizedBatch() {
        try (Scope s = backend.scope()) {
            Tensor x = backend.randomUniform(32, 64, 384);
            Tensor w = backend.randomUniform(384, 384);
            Tensor b = backend.randomUniform(384);
            for (int i = 0; i < 3; i++) {
                try (Scope inner = backend.scope()) {
                    x.linear(w, b);
                }
            }
            int n = 10;
            long t0 = System.nanoTime();
            Tensor y = null;
            for (int i = 0; i < n; i++) {
                try (Scope inner = backend.scope()) {
                    y = backend.keep(x.linear(w, b));
                }
                if (i < n - 1) {
                    backend.release(y);
                }
            }
            double ms = (System.nanoTime() - t0) / 1e6 / n;
            System.out.printf("nd4j linear (32,64,384) x (384,384)^T + b: %.2f ms per call%n", ms);
            assertThat(y.shape()).containsExactly(32, 64, 384);
            float[] row = x.slice(0, 5, 6).slice(1, 7, 8).reshape(1, 384).matmul(w.transposeLast2()).add(b)
                    .toFloatArray();
            float[] got = y.slice(0, 5, 6).slice(1, 7, 8).toFloatArray();
            assertThat(Reference.maxAbsDiff(got, row)).isLessThan(1e-3f);
            // every row, not just one
            float[] all = x.reshape(32 * 64, 384).matmul(w.transposeLast2()).add(b).toFloatArray();
            assertThat(Reference.maxAbsDiff(y.toFloatArray(), all)).isLessThan(1e-3f);
            backend.release(y);
        }
    }

    // ---------------------------------------------------------------- operands stay untouched

    @Test
    void noOperationModifiesItsOperands() {
        float[] xs = {-1.5f, -0.2f, 0.3f, 2f, 0.5f, 1f};
        try (Scope s = backend.scope()) {
            Tensor a = t(xs, 2, 3);
            Tensor b = t(xs, 2, 3);
            Tensor row = t(new float[] {1, 2, 3}, 3);
            Tensor w = t(xs, 2, 3);
            Tensor bias = t(new float[] {0.5f, -0.5f}, 2);
            Tensor ids = backend.fromLongs(new long[] {1, 0, 1}, 3);
            Map<String, Supplier<Tensor>> ops = new LinkedHashMap<>();
            ops.put("add", () -> a.add(b));
            ops.put("add broadcast", () -> a.add(row));
            ops.put("sub", () -> a.sub(row));
            ops.put("mul", () -> row.mul(a));
            ops.put("div", () -> a.div(row));
            ops.put("add scalar", () -> a.add(3f));
            ops.put("mul scalar", () -> a.mul(3f));
            ops.put("pow", () -> a.pow(3f));
            ops.put("sqrt", () -> a.sqrt());
            ops.put("exp", a::exp);
            ops.put("log", a::log);
            ops.put("abs", a::abs);
            ops.put("tanh", a::tanh);
            ops.put("sigmoid", a::sigmoid);
            ops.put("relu", a::relu);
            ops.put("erf", a::erf);
            ops.put("gelu", a::gelu);
            ops.put("silu", a::silu);
            ops.put("sum", () -> a.sum(false));
            ops.put("sum axes", () -> a.sum(true, 1));
            ops.put("mean", () -> a.mean(false, 0));
            ops.put("max", () -> a.max(1, true));
            ops.put("reshape same", () -> a.reshape(2, 3));
            ops.put("reshape", () -> a.reshape(-1));
            ops.put("permute", () -> a.permute(1, 0));
            ops.put("slice", () -> a.slice(1, 1, 3));
            ops.put("slice all", () -> a.slice(0, 0, 2));
            ops.put("toType same", () -> a.toType(DType.FLOAT32));
            ops.put("toType int", () -> a.toType(DType.INT64));
            ops.put("matmul", () -> a.matmul(b.transposeLast2()));
            ops.put("matmul batched", () -> a.reshape(1, 2, 3).matmul(b.reshape(1, 3, 2)));
            ops.put("linear", () -> a.linear(w, bias));
            ops.put("linear 3d", () -> a.reshape(1, 2, 3).linear(w, bias));
            ops.put("softmax", () -> a.softmax(0));
            ops.put("logSoftmax", () -> a.logSoftmax(-1));
            ops.put("layerNorm", () -> a.layerNorm(row, row, 1e-5f));
            ops.put("gather", () -> a.gather(ids));
            ops.put("greaterThan", () -> a.greaterThan(0f));
            ops.put("detach", a::detach);
            ops.put("concat", () -> backend.concat(List.of(a, b), 0));
            ops.put("concat one", () -> backend.concat(List.of(a), 0));
            List<String> failures = new ArrayList<>();
            for (Map.Entry<String, Supplier<Tensor>> op : ops.entrySet()) {
                Tensor result = op.getValue().get();
                result.toFloatArray();
                backend.release(result); // releasing a result must not free an operand's memory
                if (!java.util.Arrays.equals(a.toFloatArray(), xs) || !java.util.Arrays.equals(b.toFloatArray(), xs)
                        || !java.util.Arrays.equals(row.toFloatArray(), new float[] {1, 2, 3})
                        || !java.util.Arrays.equals(w.toFloatArray(), xs)
                        || !java.util.Arrays.equals(ids.toLongArray(), new long[] {1, 0, 1})) {
                    failures.add(op.getKey());
                }
            }
            assertThat(failures).as("operations that changed an operand").isEmpty();
        }
    }

    private static float[] slice(float[] v, int from, int n) {
        return java.util.Arrays.copyOfRange(v, from, from + n);
    }
}
