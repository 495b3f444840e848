package org.peft4j.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The floor under our DJL encoder time: MiniLM's six layers (32 x 64 tokens, width 384, 12
 * heads, feed-forward 1536) written directly with DJL NDArrays and PyTorch's fused kernels, no
 * peft4j code in the loop. Compare with {@link EncoderForwardBench} (our model, djl, base) and
 * {@link OrtForwardBench}: what is left between this and ONNX Runtime is the engine, not peft4j.
 */
public class RawDjlEncoderBench extends BenchDefaults {
    private static final int B = MiniLmBatch.BATCH;
    private static final int S = MiniLmBatch.SEQ;
    private static final int H = 384;
    private static final int I = 1536;
    private static final int HEADS = 12;
    private static final int D = H / HEADS;

    private NDManager manager;
    private NDArray[][] layers;
    private NDArray input;
    private NDArray mask;

    @Setup
    public void setUp() {
        manager = NDManager.newBaseManager();
        layers = new NDArray[6][];
        for (int l = 0; l < layers.length; l++) {
            layers[l] = new NDArray[] {
                weight(H, H), weight(H, H), weight(H, H), weight(H, H), weight(I, H), weight(H, I),
                manager.zeros(new Shape(H)), manager.zeros(new Shape(I)), manager.ones(new Shape(H))};
        }
        input = manager.randomNormal(new Shape(B, S, H));
        mask = manager.zeros(new Shape(B, 1, 1, S));
    }

    private NDArray weight(int out, int in) {
        return manager.randomNormal(new Shape(out, in)).mul(0.05f);
    }

    @Benchmark
    public float forward() {
        try (NDManager step = manager.newSubManager()) {
            NDArray h = input;
            for (NDArray[] w : layers) {
                NDArray q = linear(h, w[0], w[6], step).reshape(B, S, HEADS, D).transpose(0, 2, 1, 3);
                NDArray k = linear(h, w[1], w[6], step).reshape(B, S, HEADS, D).transpose(0, 2, 1, 3);
                NDArray v = linear(h, w[2], w[6], step).reshape(B, S, HEADS, D).transpose(0, 2, 1, 3);
                NDArray scores = q.mul(1f / (float) Math.sqrt(D)).matMul(k.transpose(0, 1, 3, 2)).add(mask);
                NDArray context = scores.softmax(-1).matMul(v).transpose(0, 2, 1, 3).reshape(B, S, H);
                for (NDArray a : new NDArray[] {q, k, v, scores, context}) {
                    a.tempAttach(step);
                }
                NDArray h1 = norm(linear(context, w[3], w[6], step).add(h), w, step);
                NDArray inner = Activation.gelu(linear(h1, w[4], w[7], step));
                inner.tempAttach(step);
                h = norm(linear(inner, w[5], w[6], step).add(h1), w, step);
            }
            return h.getFloat(0, 0, 0);
        }
    }

    private static NDArray linear(NDArray x, NDArray w, NDArray b, NDManager step) {
        NDArray y = Linear.linear(x, w, b).singletonOrThrow();
        y.tempAttach(step);
        return y;
    }

    private static NDArray norm(NDArray x, NDArray[] w, NDManager step) {
        x.tempAttach(step);
        NDList out = LayerNorm.layerNorm(x, new Shape(H), w[8], w[6], 1e-12f);
        NDArray y = out.singletonOrThrow();
        y.tempAttach(step);
        return y;
    }

    @TearDown
    public void tearDown() {
        manager.close();
    }
}
