package org.peft4j.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Init;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;
import org.peft4j.lora.LoraConfig;

/**
 * Framework overhead: one LoRA linear layer (384 -> 384, r=8) on 2,048 token vectors (32 x 64)
 * through peft4j's module tree and tensor API, against the same math written directly with DJL
 * NDArrays.
 */
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 8, time = 2)
public class LoraOverheadBench extends BenchDefaults {
    private static final int TOKENS = MiniLmBatch.BATCH * MiniLmBatch.SEQ;
    private static final int D = 384;
    private static final int R = 8;

    /** A model of one linear layer, so LoRA can wrap it by name. */
    static final class OneLinear extends Module {
        OneLinear(Backend b) {
            super(b);
            register("proj", Linear.init(b, D, D, true, new Init(3)));
        }

        Tensor forward(Tensor x) {
            return child("proj", LinearLayer.class).forward(x);
        }
    }

    private Backend b;
    private OneLinear model;
    private Tensor x;
    private NDManager manager;
    private NDArray rx;
    private NDArray rw;
    private NDArray rb;
    private NDArray ra;
    private NDArray rbB;
    private float scaling;

    @Setup
    public void setUp() {
        b = Peft.backend("djl");
        model = new OneLinear(b);
        PeftModel peft = new PeftModel(model, Peft.registry(), 1);
        peft.addAdapter("default", LoraConfig.builder().r(R).loraAlpha(16).targetModules("proj")
                .initLoraWeights(LoraConfig.InitLoraWeights.RANDOM).build());
        scaling = 16f / R;
        float[] xs = MiniLmBatch.gaussian(TOKENS * D, 5);
        x = b.keep(b.fromFloats(xs, TOKENS, D));
        var params = model.namedParameters();
        manager = NDManager.newBaseManager();
        rx = manager.create(xs, new Shape(TOKENS, D));
        rw = manager.create(params.get("proj.base_layer.weight").value().toFloatArray(), new Shape(D, D));
        rb = manager.create(params.get("proj.base_layer.bias").value().toFloatArray(), new Shape(D));
        ra = manager.create(params.get("proj.lora_A.default.weight").value().toFloatArray(), new Shape(R, D));
        rbB = manager.create(params.get("proj.lora_B.default.weight").value().toFloatArray(), new Shape(D, R));
    }

    @Benchmark
    public float peft4j() {
        try (org.peft4j.api.backend.Scope s = b.scope()) {
            return model.forward(x).slice(0, 0, 1).slice(1, 0, 1).item();
        }
    }

    @Benchmark
    public float rawDjl() {
        // DJL's idiom for a step: inputs temporarily attached to a sub-manager, so every
        // intermediate result lands there and is freed when it closes
        try (NDManager step = manager.newSubManager()) {
            for (NDArray a : new NDArray[] {rx, rw, rb, ra, rbB}) {
                a.tempAttach(step);
            }
            // the same fused kernel peft4j's Linear calls (torch's linear), so the ratio measures peft4j, not kernels
            NDArray y = ai.djl.nn.core.Linear.linear(rx, rw, rb).singletonOrThrow();
            NDArray down = ai.djl.nn.core.Linear.linear(rx, ra).singletonOrThrow();
            NDArray lora = ai.djl.nn.core.Linear.linear(down, rbB).singletonOrThrow().mul(scaling);
            return y.add(lora).getFloat(0, 0);
        }
    }

    @TearDown
    public void tearDown() {
        manager.close();
        b.close();
    }
}
