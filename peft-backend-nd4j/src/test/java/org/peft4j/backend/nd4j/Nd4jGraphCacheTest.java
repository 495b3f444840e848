package org.peft4j.backend.nd4j;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;

/**
 * Kept SameDiff graphs: a call that reuses a graph gives the gradients a freshly recorded graph
 * gives, and graphs that differ in anything but their input values are never confused.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class Nd4jGraphCacheTest {
    private Nd4jBackend fresh;
    private Nd4jBackend kept;

    @BeforeAll
    void open() {
        fresh = new Nd4jBackend(0, 0.5, true, true);
        kept = new Nd4jBackend(4, 0.5, true, true);
    }

    @AfterAll
    void close() {
        fresh.close();
        kept.close();
    }

    /** Gradients of {@code loss} at parameter values {@code values}, then copied out of the backend. */
    private static float[][] gradients(Backend b, List<float[]> values, List<long[]> shapes,
            Function<List<Tensor>, Tensor> loss) {
        try (Scope s = b.scope()) {
            List<Parameter> params = new ArrayList<>();
            for (int i = 0; i < values.size(); i++) {
                params.add(new Parameter(b.fromFloats(values.get(i), shapes.get(i))));
            }
            Gradients g = b.gradients(params, () -> loss.apply(params.stream().map(Parameter::value).toList()));
            float[][] out = new float[values.size() + 1][];
            for (int i = 0; i < values.size(); i++) {
                out[i] = g.grads().get(i).toFloatArray();
            }
            out[values.size()] = new float[] {g.loss()};
            return out;
        }
    }

    private static float[] random(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    /** A small attention-and-MLP block: the operations a transformer step records. */
    private static Tensor block(Backend b, float[] input, List<Tensor> p) {
        Tensor x = b.fromFloats(input, 2, 3, 4);
        Tensor h = x.linear(p.get(0), p.get(1)).gelu();
        Tensor scores = h.matmul(h.transposeLast2()).mul(0.5f).softmax(-1);
        Tensor ctx = scores.matmul(x).layerNorm(p.get(2), p.get(3), 1e-5f);
        return ctx.sum(false, -1).square().mean(false);
    }

    @Test
    void aKeptGraphGivesTheGradientsOfAFreshOneForNewValuesAndInputs() {
        Random r = new Random(7);
        List<long[]> shapes = List.of(new long[] {4, 4}, new long[] {4}, new long[] {4}, new long[] {4});
        long hitsBefore = kept.graphCacheStats()[0];
        for (int step = 0; step < 4; step++) {
            List<float[]> values = List.of(random(r, 16), random(r, 4), random(r, 4), random(r, 4));
            float[] input = random(r, 24);
            float[][] expected = gradients(fresh, values, shapes, p -> block(fresh, input, p));
            float[][] actual = gradients(kept, values, shapes, p -> block(kept, input, p));
            for (int i = 0; i < expected.length; i++) {
                assertThat(actual[i]).as("step %d, output %d", step, i)
                        .containsExactly(expected[i], org.assertj.core.data.Offset.offset(1e-5f));
            }
        }
        // every call after the first reused a graph (the first may too, if another test left one)
        assertThat(kept.graphCacheStats()[0] - hitsBefore).as("calls that reused a kept graph")
                .isGreaterThanOrEqualTo(3);
    }

    @Test
    void graphsWithEqualShapesButDifferentOperationsAreNotConfused() {
        List<long[]> shape = List.of(new long[] {3, 3});
        List<float[]> w = List.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        float[][] twice = gradients(kept, w, shape, p -> p.get(0).mul(2f).sum(false));
        float[][] thrice = gradients(kept, w, shape, p -> p.get(0).mul(3f).sum(false));
        assertThat(twice[0]).containsOnly(2f);
        assertThat(thrice[0]).containsOnly(3f);
        for (int axis = 0; axis < 2; axis++) {
            int a = axis;
            Function<List<Tensor>, Tensor> f = p -> p.get(0).sum(false, a).square().sum(false);
            assertThat(gradients(kept, w, shape, f)[0]).as("sum over axis %d", a)
                    .containsExactly(gradients(fresh, w, shape, f)[0]);
        }
        // one more parameter in use: a different set of gradients
        List<long[]> two = List.of(new long[] {3, 3}, new long[] {3, 3});
        List<float[]> wv = List.of(w.get(0), new float[] {1, 1, 1, 1, 1, 1, 1, 1, 1});
        float[][] both = gradients(kept, wv, two, p -> p.get(0).mul(p.get(1)).sum(false));
        assertThat(both[0]).containsOnly(1f);
        assertThat(both[1]).containsExactly(w.get(0));
    }

    @Test
    void threadsSharingTheKeptGraphsGetTheirOwnGradients() throws Exception {
        List<long[]> shapes = List.of(new long[] {4, 4}, new long[] {4}, new long[] {4}, new long[] {4});
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int task = 0; task < 6; task++) {
                Random r = new Random(100 + task);
                List<float[]> values = List.of(random(r, 16), random(r, 4), random(r, 4), random(r, 4));
                float[] input = random(r, 24);
                float[][] expected = gradients(fresh, values, shapes, p -> block(fresh, input, p));
                results.add(pool.submit(() -> {
                    for (int rep = 0; rep < 3; rep++) {
                        float[][] actual = gradients(kept, values, shapes, p -> block(kept, input, p));
                        for (int i = 0; i < expected.length; i++) {
                            for (int j = 0; j < expected[i].length; j++) {
                                if (Math.abs(actual[i][j] - expected[i][j]) > 1e-5f) {
                                    return false;
                                }
                            }
                        }
                    }
                    return true;
                }));
            }
            for (Future<Boolean> f : results) {
                assertThat(f.get()).as("gradients computed concurrently on kept graphs").isTrue();
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
