package org.peft4j.backend.nd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.shape.Reshape;
import org.nd4j.linalg.factory.Nd4j;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;

/** SameDiff-traced gradients against closed forms and central finite differences. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class Nd4jGradientsTest {
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

    /**
     * Checks the gradients of {@code f} for every parameter against central differences with step
     * 1e-2, to 1e-2 relative (plus a small absolute slack for near-zero entries).
     */
    private void checkAgainstFiniteDifferences(List<float[]> values, List<long[]> shapes,
            Function<List<Tensor>, Tensor> f) {
        try (Scope s = backend.scope()) {
            List<Parameter> params = new ArrayList<>();
            for (int i = 0; i < values.size(); i++) {
                params.add(new Parameter(t(values.get(i), shapes.get(i))));
            }
            Gradients g = backend.gradients(params, () -> f.apply(params.stream().map(Parameter::value).toList()));
            assertThat(g.loss()).isCloseTo(f.apply(params.stream().map(Parameter::value).toList()).item(),
                    within(1e-5f));
            float h = 1e-2f;
            for (int p = 0; p < values.size(); p++) {
                assertThat(g.grads().get(p).shape()).containsExactly(shapes.get(p));
                float[] analytic = g.grads().get(p).toFloatArray();
                for (int i = 0; i < values.get(p).length; i++) {
                    float numeric = (eval(values, shapes, f, p, i, h) - eval(values, shapes, f, p, i, -h)) / (2 * h);
                    assertThat(analytic[i]).as("d loss / d param%d[%d]", p, i)
                            .isCloseTo(numeric, within(2e-3f + 1e-2f * Math.abs(numeric)));
                }
            }
            params.forEach(pa -> backend.release(pa.value()));
        }
    }

    private float eval(List<float[]> values, List<long[]> shapes, Function<List<Tensor>, Tensor> f, int p, int i,
            float delta) {
        try (Scope s = backend.scope()) {
            List<Tensor> in = new ArrayList<>();
            for (int j = 0; j < values.size(); j++) {
                float[] v = values.get(j).clone();
                if (j == p) {
                    v[i] += delta;
                }
                in.add(t(v, shapes.get(j)));
            }
            return f.apply(in).item();
        }
    }

    @Test
    void sumOfSquaresHasGradientTwoX() {
        try (Scope s = backend.scope()) {
            Parameter x = new Parameter(t(new float[] {1, -2, 3, 0.5f}, 2, 2));
            Gradients g = backend.gradients(List.of(x), () -> x.value().mul(x.value()).sum(false));
            assertThat(g.loss()).isEqualTo(14.25f);
            assertThat(g.grads().get(0).shape()).containsExactly(2, 2);
            assertThat(g.grads().get(0).toFloatArray()).containsExactly(2, -4, 6, 1);
            assertThat(x.value().toFloatArray()).containsExactly(1, -2, 3, 0.5f);
        }
    }

    @Test
    void linearSoftmaxCrossEntropyMatchesFiniteDifferences() {
        float[] xs = Reference.randoms(4 * 3 * 5, 1);
        long[] labels = {0, 2, 1, 3, 3, 0, 1, 2, 0, 0, 2, 1};
        float[] onehot = new float[12 * 4];
        for (int i = 0; i < labels.length; i++) {
            onehot[i * 4 + (int) labels[i]] = 1;
        }
        try (Scope outer = backend.scope()) {
            Tensor x = t(xs, 4, 3, 5);
            Tensor target = t(onehot, 4, 3, 4);
            // (x @ w + b) with w (5, 4) and bias (4) broadcast over (4, 3, 4), then softmax CE
            checkAgainstFiniteDifferences(List.of(Reference.randoms(20, 2), Reference.randoms(4, 3)),
                    List.of(new long[] {5, 4}, new long[] {4}),
                    p -> x.matmul(p.get(0)).add(p.get(1)).softmax(-1).log().mul(target).sum(false, -1).mean(false)
                            .neg());
            // the same through linear (torch layout) and logSoftmax
            checkAgainstFiniteDifferences(List.of(Reference.randoms(20, 4), Reference.randoms(4, 5)),
                    List.of(new long[] {4, 5}, new long[] {4}),
                    p -> x.linear(p.get(0), p.get(1)).logSoftmax(-1).mul(target).sum(false).div(-12f));
        }
    }

    /**
     * A linear layer whose weight and bias are not parameters (a frozen base layer) is recorded so
     * that only the input's gradient is computed; that gradient must still be right, with and
     * without a bias, on rank-2 and rank-3 inputs.
     */
    @Test
    void linearWithAFrozenWeightDifferentiatesItsInput() {
        try (Scope outer = backend.scope()) {
            Tensor w = t(Reference.randoms(20, 5), 4, 5);
            Tensor bias = t(Reference.randoms(4, 6), 4);
            checkAgainstFiniteDifferences(List.of(Reference.randoms(30, 7)), List.of(new long[] {2, 3, 5}),
                    p -> p.get(0).linear(w, bias).tanh().sum(false));
            checkAgainstFiniteDifferences(List.of(Reference.randoms(15, 8)), List.of(new long[] {3, 5}),
                    p -> p.get(0).mul(p.get(0)).linear(w, null).sigmoid().sum(false));
        }
    }

    /** A frozen gain is fed at full shape (see Nd4jTensor.layerNorm); the input's gradient stays exact. */
    @Test
    void layerNormWithAFrozenGainDifferentiatesItsInput() {
        try (Scope outer = backend.scope()) {
            Tensor gain = t(Reference.randoms(5, 11), 5);
            Tensor beta = t(Reference.randoms(5, 12), 5);
            checkAgainstFiniteDifferences(List.of(Reference.randoms(30, 13)), List.of(new long[] {2, 3, 5}),
                    p -> p.get(0).layerNorm(gain, beta, 1e-5f).tanh().sum(false));
            checkAgainstFiniteDifferences(List.of(Reference.randoms(15, 14)), List.of(new long[] {3, 5}),
                    p -> p.get(0).mul(p.get(0)).layerNorm(gain, beta, 1e-12f).sigmoid().sum(false));
        }
    }

    /**
     * A concat of values that depend on a parameter (prompt and prefix tuning do one every step) is
     * recorded like any other operation: nothing runs the graph before the gradient run.
     */
    /**
     * GELU in a recorded graph is exact, as eager GELU is: the loss is the exact GELU sum and the
     * gradient is GELU's derivative {@code Phi(x) + x phi(x)} to within 2e-7 over [-12, 12], on an
     * array large enough for the kernels' parallel path and, through a frozen linear layer's
     * output (whose array ND4J flags column-major with row-major strides), on a small one.
     */
    @Test
    void geluInARecordedGraphIsExactAndSoIsItsGradient() {
        for (int n : new int[] {96_000, 640}) {
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = -12f + 24f * i / (n - 1);
            }
            try (Scope s = backend.scope()) {
                Parameter p = new Parameter(t(v, n / 64, 64));
                Tensor identity = backend.fromFloats(identity(64), 64, 64);
                boolean throughLinear = n < 1_000;
                Gradients g = backend.gradients(List.of(p), () -> (throughLinear
                        ? p.value().linear(identity, null) : p.value()).gelu().sum(false));
                double loss = 0;
                for (float x : v) {
                    loss += 0.5 * x * (1 + Reference.erf(x / Math.sqrt(2)));
                }
                assertThat((double) g.loss()).isCloseTo(loss, within(1e-5 * Math.abs(loss)));
                float[] grad = g.grads().get(0).toFloatArray();
                for (int i = 0; i < n; i++) {
                    double x = v[i];
                    double d = 0.5 * (1 + Reference.erf(x / Math.sqrt(2))) + x * Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
                    assertThat((double) grad[i]).as("GELU'(%s)", x).isCloseTo(d, within(2e-7));
                }
            }
        }
    }

    /**
     * The ops of {@link GraphKernels} give the gradients SameDiff's own ops give, for a block with
     * GELU, a product with a fed mask, softmax, a sum of a value with itself, a residual sum and a
     * layer norm with a trained gain and one with a frozen gain, on rows large enough for the
     * parallel path: every gradient within 1e-5 relative (plus 1e-6 absolute), and the same loss.
     */
    @Test
    void javaKernelsGiveTheGradientsOfTheComposedOps() {
        float[][] values = {Reference.randoms(32 * 64, 41), Reference.randoms(64, 42), Reference.randoms(64, 43),
                Reference.randoms(64 * 32, 44)};
        long[][] shapes = {{64, 32}, {64}, {64}, {32, 64}};
        Tensor x = t(Reference.randoms(4 * 300 * 32, 45), 4, 300, 32);
        Tensor frozenGain = t(Reference.randoms(32, 46), 32);
        Tensor frozenBias = t(Reference.randoms(32, 47), 32);
        Tensor mask = t(Reference.randoms(4 * 300 * 64, 48), 4, 300, 64);
        Function<List<Tensor>, Tensor> block = p -> {
            Tensor h = x.linear(p.get(0), null).layerNorm(p.get(1), p.get(2), 1e-5f).gelu().mul(mask).softmax(-1);
            h = h.add(h).mul(3f);
            return h.linear(p.get(3), null).add(x).layerNorm(frozenGain, frozenBias, 1e-12f).square().mean(false);
        };
        // the kernels are on (else this compares SameDiff's ops with themselves)
        assertThat(GraphKernels.enabled()).isTrue();
        assertThat(Nd4j.getExecutioner()).isInstanceOf(GraphKernels.Executioner.class);
        float[][] kernels = gradients(values, shapes, block, true);
        float[][] composed = gradients(values, shapes, block, false);
        for (int p = 0; p <= values.length; p++) { // the last row holds the loss
            for (int i = 0; i < composed[p].length; i++) {
                assertThat(kernels[p][i]).as("param %d [%d]", p, i)
                        .isCloseTo(composed[p][i], within(1e-6f + 1e-5f * Math.abs(composed[p][i])));
            }
        }
    }

    private float[][] gradients(float[][] values, long[][] shapes, Function<List<Tensor>, Tensor> f, boolean kernels) {
        String previous = System.setProperty(GraphKernels.PROPERTY, Boolean.toString(kernels));
        try (Scope s = backend.scope()) {
            List<Parameter> params = new ArrayList<>();
            for (int i = 0; i < values.length; i++) {
                params.add(new Parameter(t(values[i], shapes[i])));
            }
            Gradients g = backend.gradients(params, () -> f.apply(params.stream().map(Parameter::value).toList()));
            float[][] out = new float[values.length + 1][];
            for (int i = 0; i < values.length; i++) {
                out[i] = g.grads().get(i).toFloatArray();
            }
            out[values.length] = new float[] {g.loss()};
            return out;
        } finally {
            if (previous == null) {
                System.clearProperty(GraphKernels.PROPERTY);
            } else {
                System.setProperty(GraphKernels.PROPERTY, previous);
            }
        }
    }

    private static float[] identity(int k) {
        float[] m = new float[k * k];
        for (int i = 0; i < k; i++) {
            m[i * k + i] = 1f;
        }
        return m;
    }

    @Test
    void concatOfRecordedValuesIsRecordedNotComputed() {
        try (Scope s = backend.scope()) {
            Parameter p = new Parameter(t(Reference.randoms(6, 9), 2, 3));
            Tensor x = t(Reference.randoms(6, 10), 2, 3);
            int[] graphRuns = new int[1];
            Gradients g = backend.gradients(List.of(p), () -> {
                Tensor c = backend.concat(List.of(p.value().tanh(), x), 0); // (4, 3)
                Tensor loss = c.mul(c).sum(false);
                graphRuns[0] = backend.recorder().materializedValues();
                return loss;
            });
            assertThat(graphRuns[0]).isZero();
            float[] pv = p.value().toFloatArray();
            float[] xv = x.toFloatArray();
            float[] grad = g.grads().get(0).toFloatArray();
            double loss = 0;
            for (int i = 0; i < pv.length; i++) {
                double th = Math.tanh(pv[i]);
                loss += th * th + xv[i] * xv[i];
                assertThat(grad[i]).as("d loss / d p[%d]", i)
                        .isCloseTo((float) (2 * th * (1 - th * th)), within(1e-5f));
            }
            assertThat(g.loss()).isCloseTo((float) loss, within(1e-4f));
        }
    }

    /** A loss touching every recorded operation kind: linear, layer norm, GELU, softmax, gather, shapes. */
    private static Tensor everyOp(Nd4jBackend b, List<Tensor> p, Tensor x, Tensor ids) {
        Tensor emb = p.get(2).gather(ids); // (2, 3, 4)
        Tensor h = x.add(emb).linear(p.get(0), p.get(1)).layerNorm(p.get(3), p.get(4), 1e-5f).gelu();
        Tensor att = h.matmul(h.permute(0, 2, 1)).mul(0.5f).softmax(-1).matmul(h); // (2, 3, 4)
        Tensor cat = b.concat(List.of(att.slice(1, 0, 2), att.slice(1, 2, 3).toType(
                org.peft4j.api.backend.DType.FLOAT32).tanh()), 1);
        return cat.reshape(6, 4).max(-1, false).sum(false).add(cat.exp().mean(false))
                .add(cat.sigmoid().sqrt().log().abs().pow(1.5f).mean(false));
    }

    /**
     * Recording without computing, and recycling a gradient run's arrays as it goes (with a kept
     * graph too, whose arrays wait in the shared cache between runs), give exactly the gradients of
     * computing eagerly and keeping every array, SameDiff's own way.
     */
    @Test
    void recordingLazilyAndRecyclingArraysGiveTheGradientsOfSameDiffsOwnWay() {
        List<float[]> values = List.of(Reference.randoms(16, 20), Reference.randoms(4, 21), Reference.randoms(20, 22),
                Reference.randoms(4, 23), Reference.randoms(4, 24));
        List<long[]> shapes = List.of(new long[] {4, 4}, new long[] {4}, new long[] {5, 4}, new long[] {4},
                new long[] {4});
        List<Float> losses = new ArrayList<>();
        List<float[][]> grads = new ArrayList<>();
        // {kept graphs, lazy, recycle}; the first is SameDiff's own way
        int[][] configs = {{0, 0, 0}, {0, 1, 1}, {0, 1, 0}, {0, 0, 1}, {2, 1, 1}};
        for (int[] c : configs) {
            try (Nd4jBackend b = new Nd4jBackend(c[0], 0.5, c[1] == 1, c[2] == 1); Scope s = b.scope()) {
                Tensor x = b.fromFloats(Reference.randoms(24, 25), 2, 3, 4);
                Tensor ids = b.fromLongs(new long[] {0, 3, 3, 1, 4, 0}, 2, 3);
                List<Parameter> params = new ArrayList<>();
                for (int i = 0; i < values.size(); i++) {
                    params.add(new Parameter(b.fromFloats(values.get(i), shapes.get(i))));
                }
                for (int run = 0; run < 2; run++) { // a kept graph's second run reuses the first run's arrays
                    Gradients g = b.gradients(params, () -> everyOp(b, params.stream().map(Parameter::value).toList(),
                            x, ids));
                    losses.add(g.loss());
                    grads.add(g.grads().stream().map(Tensor::toFloatArray).toArray(float[][]::new));
                }
            }
        }
        float[][] reference = grads.get(0);
        for (int r = 1; r < grads.size(); r++) {
            String config = java.util.Arrays.toString(configs[r / 2]) + " run " + (r % 2);
            assertThat(losses.get(r)).as(config).isCloseTo(losses.get(0), within(1e-5f));
            for (int p = 0; p < values.size(); p++) {
                float[] got = grads.get(r)[p];
                assertThat(got).as("%s: gradient of param%d", config, p).hasSize(reference[p].length);
                assertThat(reference[p]).as("gradient of param%d", p).isNotEqualTo(new float[got.length]);
                for (int i = 0; i < got.length; i++) {
                    assertThat(got[i]).as("%s: d loss / d param%d[%d]", config, p, i)
                            .isCloseTo(reference[p][i], within(1e-5f));
                }
            }
        }
    }

    @Test
    void valuesReadInsideTheLossAreComputedAndTheGradientStaysRight() {
        try (Scope s = backend.scope()) {
            Tensor x = t(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
            Parameter w = new Parameter(t(new float[] {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f}, 3, 2));
            float[] expected = x.matmul(w.value()).tanh().toFloatArray();
            float[][] read = new float[1][];
            // loss = sum(tanh(x w) * c) with c = detach(sum(tanh(x w))): the read and the detach
            // both need values in the middle of the recording
            Gradients g = backend.gradients(List.of(w), () -> {
                Tensor h = x.matmul(w.value()).tanh();
                read[0] = h.toFloatArray();
                return h.mul(h.sum(false).detach()).sum(false);
            });
            assertThat(read[0]).hasSize(4);
            float c = 0;
            for (int i = 0; i < 4; i++) {
                assertThat(read[0][i]).isCloseTo(expected[i], within(1e-6f));
                c += expected[i];
            }
            assertThat(g.loss()).isCloseTo(c * c, within(1e-4f));
            // d/dw_kj = c * sum_i x_ik (1 - h_ij^2)
            float[] xs = x.toFloatArray();
            float[] grad = g.grads().get(0).toFloatArray();
            for (int k = 0; k < 3; k++) {
                for (int j = 0; j < 2; j++) {
                    float d = 0;
                    for (int i = 0; i < 2; i++) {
                        d += xs[i * 3 + k] * (1 - expected[i * 2 + j] * expected[i * 2 + j]);
                    }
                    assertThat(grad[k * 2 + j]).as("d loss / d w[%d][%d]", k, j).isCloseTo(c * d, within(1e-4f));
                }
            }
        }
    }

    @Test
    void intermediatesNotReadInsideTheLossFailClearlyAfterwardsButTheLossIsKept() {
        try (Scope s = backend.scope()) {
            Parameter w = new Parameter(t(new float[] {1, 2, 3, 4}, 2, 2));
            Tensor[] kept = new Tensor[2];
            Gradients g = backend.gradients(List.of(w), () -> {
                kept[0] = w.value().mul(2f);
                kept[1] = kept[0].square().sum(false);
                return kept[1];
            });
            assertThat(g.loss()).isEqualTo(120f);
            assertThat(kept[1].item()).isEqualTo(120f);
            assertThatThrownBy(() -> kept[0].toFloatArray()).isInstanceOf(PeftException.class)
                    .hasMessageContaining("computed inside Backend.gradients()")
                    .hasMessageContaining("read the value inside the loss supplier");
            assertThatThrownBy(() -> backend.keep(kept[0])).hasMessageContaining("computed inside Backend.gradients()");
            backend.release(kept[0]);
            assertThatThrownBy(() -> kept[0].toFloatArray()).hasMessageContaining("was released");
        }
    }

    /**
     * Reshapes of reshapes are recorded as one reshape of the first one's input (a reshape copies in
     * a SameDiff run): the gradients stay right through attention's shape chain (a linear layer on
     * a 3-D input split into heads, heads merged, the next linear layer), when a reshape returns to
     * its input's shape, and when the first reshape is also read by something else; element-wise
     * ops moved before a reshape, and one reshape shared by its readers, keep them right too.
     */
    @Test
    void chainedReshapesDifferentiate() {
        try (Scope outer = backend.scope()) {
            Tensor x = t(Reference.randoms(2 * 3 * 4, 16), 2, 3, 4);
            checkAgainstFiniteDifferences(List.of(Reference.randoms(4 * 4, 17), Reference.randoms(4 * 4, 18)),
                    List.of(new long[] {4, 4}, new long[] {4, 4}),
                    p -> {
                        Tensor heads = x.linear(p.get(0), null).reshape(2, 3, 2, 2).permute(0, 2, 1, 3);
                        Tensor scores = heads.matmul(heads.transposeLast2()).softmax(-1).matmul(heads);
                        Tensor merged = scores.permute(0, 2, 1, 3).reshape(2, 3, 4);
                        Tensor y = merged.linear(p.get(1), null).tanh();
                        Tensor flat = y.reshape(6, 4);
                        return flat.reshape(2, 3, 4).mul(y).sum(false).add(flat.reshape(24).square().mean(false));
                    });
        }
        try (Scope outer = backend.scope()) {
            // element-wise ops on a linear layer's output, the next linear layer reading it back, and
            // two linear layers of one input
            Tensor x = t(Reference.randoms(2 * 3 * 4, 19), 2, 3, 4);
            checkAgainstFiniteDifferences(
                    List.of(Reference.randoms(8 * 4, 20), Reference.randoms(4 * 8, 21), Reference.randoms(4 * 4, 22)),
                    List.of(new long[] {8, 4}, new long[] {4, 8}, new long[] {4, 4}),
                    p -> {
                        Tensor h = x.linear(p.get(0), null).gelu().mul(2f).add(0.5f).tanh();
                        Tensor y = h.linear(p.get(1), null);
                        Tensor q = x.linear(p.get(2), null);
                        Tensor k = x.linear(p.get(2).mul(0.5f), null);
                        return y.add(q).mul(k).sum(false).add(h.square().mean(false));
                    });
        }
        try (Scope outer = backend.scope()) {
            // a residual block: a linear layer's output times a fed mask plus the fed input, layer
            // norm with a frozen gain, the next linear layer added to its own input, layer norm again
            Tensor x = t(Reference.randoms(2 * 3 * 4, 23), 2, 3, 4);
            Tensor mask = t(Reference.randoms(2 * 3 * 4, 24), 2, 3, 4);
            Tensor frozenGain = t(Reference.randoms(4, 25), 4);
            checkAgainstFiniteDifferences(
                    List.of(Reference.randoms(4 * 4, 26), Reference.randoms(4, 27), Reference.randoms(4 * 4, 28),
                            Reference.randoms(4, 29)),
                    List.of(new long[] {4, 4}, new long[] {4}, new long[] {4, 4}, new long[] {4}),
                    p -> {
                        Tensor n1 = x.linear(p.get(0), null).mul(mask).add(x).layerNorm(frozenGain, p.get(1), 1e-5f);
                        Tensor n2 = n1.linear(p.get(2), null).add(n1).layerNorm(p.get(3), p.get(1), 1e-5f);
                        return n2.mul(n1).sum(false);
                    });
        }
        try (Recorder rec = new Recorder(true)) {
            org.nd4j.autodiff.samediff.SameDiff sd = rec.sameDiff();
            org.nd4j.autodiff.samediff.SDVariable flatVar = sd.var("f", org.nd4j.linalg.api.buffer.DataType.FLOAT, 6, 4);
            rec.shape(flatVar, 6, 4);
            org.nd4j.autodiff.samediff.SDVariable fed = rec.feedOwned(org.nd4j.linalg.factory.Nd4j.ones(
                    org.nd4j.linalg.api.buffer.DataType.FLOAT, 2, 3, 4));
            rec.shape(fed, 2, 3, 4);
            org.nd4j.autodiff.samediff.SDVariable sum = rec.elementwise(rec.reshape(flatVar, 2, 3, 4), fed,
                    new long[] {2, 3, 4}, (u, w) -> u.add(w));
            org.nd4j.autodiff.functions.DifferentialFunction reshape = sd.getVariableOutputOp(sum.name());
            assertThat(reshape).as("the sum is made flat, then reshaped").isInstanceOf(Reshape.class);
            org.nd4j.autodiff.functions.DifferentialFunction add = sd.getVariableOutputOp(reshape.arg(0).name());
            assertThat(add.arg(0).name()).isEqualTo("f");
            assertThat(rec.shapeOf(add.arg(1))).as("the fed constant fed again flat").containsExactly(6, 4);
        }
        try (Recorder rec = new Recorder(true)) {
            org.nd4j.autodiff.samediff.SameDiff sd = rec.sameDiff();
            org.nd4j.autodiff.samediff.SDVariable a = sd.var("a", org.nd4j.linalg.api.buffer.DataType.FLOAT, 2, 6);
            rec.shape(a, 2, 6);
            org.nd4j.autodiff.samediff.SDVariable split = rec.reshape(a, 3, 4);
            assertThat(sd.getVariableOutputOp(rec.reshape(split, 12).name()).arg(0).name()).as("reshapes the original")
                    .isEqualTo("a");
            assertThat(rec.reshape(split, 2, 6)).as("back to the original's shape: the original").isSameAs(a);
            assertThat(rec.reshape(a, 3, 4)).as("one reshape serves every reader").isSameAs(split);
            org.nd4j.autodiff.samediff.SDVariable doubled = rec.elementwise(split, new long[] {3, 4}, v -> v.mul(2.0));
            org.nd4j.autodiff.samediff.SDVariable flat = rec.reshape(doubled, 2, 6);
            assertThat(sd.getVariableOutputOp(flat.name())).as("an element-wise op runs before the reshape, so reading"
                    + " its result back in the first shape reshapes nothing").isNotInstanceOf(Reshape.class);
        }
    }

    @Test
    void broadcastAndShapeOpsDifferentiate() {
        try (Scope outer = backend.scope()) {
            Tensor c = t(Reference.randoms(2 * 3 * 4, 10), 2, 3, 4);
            // (2,1,4) * (2,3,1), sub/div broadcasting, reductions with keepDims, permute, slice, concat
            checkAgainstFiniteDifferences(
                    List.of(Reference.randoms(8, 11), Reference.randoms(6, 12), Reference.randoms(4, 13)),
                    List.of(new long[] {2, 1, 4}, new long[] {2, 3, 1}, new long[] {4}),
                    p -> {
                        Tensor a = p.get(0).mul(p.get(1)).sub(c.div(p.get(2).square().add(1f)));
                        Tensor m = a.sub(a.mean(true, 1)).permute(2, 0, 1);
                        Tensor cat = backend.concat(List.of(m.slice(0, 1, 3), m.slice(0, 0, 1).tanh()), 0);
                        return cat.max(-1, false).sum(false).add(cat.sigmoid().pow(2f).mean(false))
                                .add(cat.abs().add(0.1f).sqrt().exp().mean(false));
                    });
            // batched matmul with broadcast batch axes, and a 2-D left operand
            checkAgainstFiniteDifferences(List.of(Reference.randoms(2 * 3 * 4, 14), Reference.randoms(3 * 4 * 2, 15)),
                    List.of(new long[] {2, 1, 3, 4}, new long[] {3, 4, 2}),
                    p -> p.get(0).matmul(p.get(1)).relu().add(p.get(0).slice(0, 0, 1).reshape(3, 4)
                            .matmul(p.get(1)).erf()).square().mean(false));
        }
    }

    @Test
    void embeddingGradientsSumRepeatedIndices() {
        try (Scope s = backend.scope()) {
            Parameter table = new Parameter(t(Reference.randoms(8, 20), 4, 2));
            Tensor ids = backend.fromLongs(new long[] {0, 2, 1, 2, 0, 1, 1, 0, 2, 0}, 2, 5);
            Gradients g = backend.gradients(List.of(table), () -> table.value().gather(ids).sum(false));
            // row r's gradient counts how often r was looked up; row 3 never was
            assertThat(g.grads().get(0).toFloatArray()).containsExactly(4, 4, 3, 3, 3, 3, 0, 0);
            Gradients unique = backend.gradients(List.of(table),
                    () -> table.value().gather(backend.fromLongs(new long[] {3, 0}, 2)).mul(t(new float[] {1, 2, 3, 4},
                            2, 2)).sum(false));
            assertThat(unique.grads().get(0).toFloatArray()).containsExactly(3, 4, 0, 0, 0, 0, 1, 2);
        }
        try (Scope s = backend.scope()) {
            Tensor ids = backend.fromLongs(new long[] {3, 1, 1, 0, 3, 3}, 3, 2);
            checkAgainstFiniteDifferences(List.of(Reference.randoms(12, 21)), List.of(new long[] {4, 3}),
                    p -> p.get(0).gather(ids).tanh().layerNorm(backend.full(1.5f, 3), backend.full(0.1f, 3), 1e-5f)
                            .gelu().mean(false));
        }
    }

    @Test
    void embeddingGradientsForManyPositionsAndPermutations() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(5);
        int rows = 50;
        int cols = 3;
        for (int n : new int[] {1, 7, 300, 700}) {
            long[] ids = new long[n];
            for (int p = 0; p < n; p++) {
                ids[p] = n == 7 ? (p * 3 + 2) % 50 : r.nextInt(rows); // n == 7: distinct indices
            }
            float[] weights = Reference.randoms(n * cols, n);
            float[] expected = new float[rows * cols];
            for (int p = 0; p < n; p++) {
                for (int c = 0; c < cols; c++) {
                    expected[(int) ids[p] * cols + c] += weights[p * cols + c];
                }
            }
            try (Scope s = backend.scope()) {
                Parameter table = new Parameter(t(Reference.randoms(rows * cols, 30), rows, cols));
                Tensor idx = backend.fromLongs(ids, n);
                Tensor w = t(weights, n, cols);
                Gradients g = backend.gradients(List.of(table), () -> table.value().gather(idx).mul(w).sum(false));
                assertThat(g.grads().get(0).toFloatArray()).as("gradient for %d positions", n)
                        .usingComparatorWithPrecision(1e-5f).containsExactly(expected);
                backend.release(table.value());
            }
        }
    }

    @Test
    void onlyListedParametersGetGradientsAndUnusedOnesGetZeros() {
        try (Scope s = backend.scope()) {
            Parameter trained = new Parameter(t(new float[] {1, 2}, 2));
            Parameter frozen = new Parameter(t(new float[] {3, 4}, 2));
            Parameter unused = new Parameter(t(new float[] {5, 6, 7}, 3));
            Gradients g = backend.gradients(List.of(trained, unused),
                    () -> trained.value().mul(frozen.value()).sum(false));
            assertThat(g.grads()).hasSize(2);
            assertThat(g.grads().get(0).toFloatArray()).containsExactly(3, 4);
            assertThat(g.grads().get(1).shape()).containsExactly(3);
            assertThat(g.grads().get(1).toFloatArray()).containsOnly(0f);
            // a loss that depends on no parameter at all
            Gradients none = backend.gradients(List.of(trained), () -> frozen.value().sum(false));
            assertThat(none.loss()).isEqualTo(7f);
            assertThat(none.grads().get(0).toFloatArray()).containsExactly(0, 0);
            // detach and masks are constants
            Gradients detached = backend.gradients(List.of(trained),
                    () -> trained.value().mul(trained.value().detach()).add(trained.value().greaterThan(1.5f)).sum(false));
            assertThat(detached.grads().get(0).toFloatArray()).containsExactly(1, 2);
        }
    }

    @Test
    void parameterTwiceInTheListGetsTheGradientTwice() {
        try (Scope s = backend.scope()) {
            Parameter p = new Parameter(t(new float[] {1, 2}, 2));
            Gradients g = backend.gradients(List.of(p, p), () -> p.value().square().sum(false));
            assertThat(g.grads().get(0).toFloatArray()).containsExactly(2, 4);
            assertThat(g.grads().get(1).toFloatArray()).containsExactly(2, 4);
            assertThat(g.grads().get(0)).isNotSameAs(g.grads().get(1));
        }
    }

    @Test
    void misuseFailsClearly() {
        try (Scope s = backend.scope()) {
            Parameter p = new Parameter(t(new float[] {1, 2}, 2));
            assertThatThrownBy(() -> backend.gradients(List.of(p), () -> p.value().mul(2f)))
                    .isInstanceOf(PeftException.class).hasMessageContaining("one element").hasMessageContaining("[2]");
            assertThatThrownBy(() -> backend.gradients(List.of(p),
                    () -> backend.gradients(List.of(p), () -> p.value().sum(false)).grads().get(0).sum(false)))
                    .isInstanceOf(PeftException.class).hasMessageContaining("nested");
            // the backend is usable afterwards
            assertThat(backend.gradients(List.of(p), () -> p.value().sum(false)).grads().get(0).toFloatArray())
                    .containsExactly(1, 1);
        }
    }

    @Test
    void gradientsLiveInTheCurrentScopeAndOperandsSurvive() {
        Parameter p = new Parameter(t(new float[] {1, 2, 3}, 3));
        Tensor x = backend.keep(t(new float[] {4, 5, 6}, 3));
        Tensor grad;
        try (Scope s = backend.scope()) {
            grad = backend.gradients(List.of(p), () -> p.value().mul(x).sum(false)).grads().get(0);
            assertThat(grad.toFloatArray()).containsExactly(4, 5, 6);
        }
        assertThatThrownBy(grad::toFloatArray).isInstanceOf(PeftException.class).hasMessageContaining("released");
        assertThat(p.value().toFloatArray()).containsExactly(1, 2, 3);
        assertThat(x.toFloatArray()).containsExactly(4, 5, 6);
        backend.release(x);
        backend.release(p.value());
    }

    @Test
    void constantsReleasedWhileTracingStayValidForSameDiff() {
        try (Scope s = backend.scope()) {
            Parameter p = new Parameter(t(new float[] {1, 2, 3}, 3));
            Gradients g = backend.gradients(List.of(p), () -> {
                Tensor y;
                try (Scope inner = backend.scope()) {
                    Tensor c = t(new float[] {2, 3, 4}, 3).mul(2f); // a constant the graph shares
                    y = backend.keep(p.value().mul(c));
                }
                Tensor loss = y.sum(false);
                backend.release(y);
                return loss;
            });
            assertThat(g.loss()).isEqualTo(40f);
            assertThat(g.grads().get(0).toFloatArray()).containsExactly(4, 6, 8);
        }
    }

    @Test
    void threadsDifferentiateIndependently() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<float[]>> results = new ArrayList<>();
            for (int k = 1; k <= 6; k++) {
                float scale = k;
                results.add(pool.submit(() -> {
                    float[] last = null;
                    for (int it = 0; it < 20; it++) {
                        try (Scope s = backend.scope()) {
                            Parameter w = new Parameter(t(new float[] {1, 2, 3, 4}, 2, 2));
                            Tensor x = t(new float[] {scale, 1}, 1, 2);
                            Gradients g = backend.gradients(List.of(w), () -> x.matmul(w.value()).square().sum(false));
                            last = g.grads().get(0).toFloatArray();
                            backend.release(w.value());
                        }
                    }
                    return last;
                }));
            }
            for (int k = 1; k <= 6; k++) {
                // y = [k + 3, 2k + 4]; dL/dw[i][j] = 2 * x[i] * y[j]
                float y0 = k + 3;
                float y1 = 2 * k + 4;
                assertThat(results.get(k - 1).get()).containsExactly(2 * k * y0, 2 * k * y1, 2 * y0, 2 * y1);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void sameDiffDifferentiationLinesAreKeptOffStdout() {
        PrintStream original = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try (Scope s = backend.scope()) {
            Parameter p = new Parameter(t(new float[] {1, 2}, 2));
            backend.gradients(List.of(p), () -> {
                System.out.println("user output survives");
                return p.value().exp().sum(false);
            });
        } finally {
            System.out.flush();
            System.setOut(original);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        assertThat(out).contains("user output survives").doesNotContain("Added differentiated op");
    }
}
