package org.peft4j.bench;

import java.util.ArrayList;
import java.util.List;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModel;
import org.peft4j.core.tuner.RowAdapters;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.io.MiniLm;

/**
 * Serving eight LoRA adapters: one batch of 32 rows where every 4 rows name another adapter,
 * against 8 sub-batches of 4 rows run one after another with their adapter set.
 */
public class MixedBatchBench extends BenchDefaults {
    private static final int ADAPTERS = 8;

    @Param({"djl", "nd4j"})
    public String backend;

    /** Tokens per row: 64 (compute-bound on CPU) or 16 (short requests, where per-call cost shows). */
    @Param({"64", "16"})
    public int tokens;

    private Backend b;
    private BertModel bert;
    private PeftModel peft;
    private final List<String> route = new ArrayList<>();
    private final List<String> baseRoute = new ArrayList<>();
    private Tensor ids;
    private Tensor mask;
    private final List<Tensor> subIds = new ArrayList<>();
    private final List<Tensor> subMasks = new ArrayList<>();

    @Setup
    public void setUp() {
        b = Peft.backend(backend);
        bert = new BertModel(b, MiniLm.config(), MiniLmBatch.weights(), "");
        peft = new PeftModel(bert, Peft.registry(), 1);
        int rows = MiniLmBatch.BATCH / ADAPTERS;
        for (int a = 0; a < ADAPTERS; a++) {
            peft.addAdapter("a" + a, LoraConfig.builder().r(8).loraAlpha(16).targetModules("query", "value")
                    .initLoraWeights(LoraConfig.InitLoraWeights.RANDOM).build());
            for (int r = 0; r < rows; r++) {
                route.add("a" + a);
                baseRoute.add(RowAdapters.BASE);
            }
        }
        ids = b.keep(MiniLmBatch.idsTensor(b).slice(1, 0, tokens));
        mask = b.keep(MiniLmBatch.mask(b).slice(1, 0, tokens));
        for (int a = 0; a < ADAPTERS; a++) {
            subIds.add(b.keep(ids.slice(0, a * rows, (a + 1) * rows)));
            subMasks.add(b.keep(mask.slice(0, a * rows, (a + 1) * rows)));
        }
    }

    @Benchmark
    public float mixed() {
        try (org.peft4j.api.backend.Scope s = b.scope()) {
            return peft.withRowAdapters(route, () -> bert.forward(ids, mask, null).slice(0, 0, 1).sum(false).item());
        }
    }

    /**
     * The same rows as 8 sub-batches, one adapter each, routed as {@link #mixed} routes (no adapter
     * switching in either): what batching across adapters saves, like with like.
     */
    @Benchmark
    public float sequential() {
        float sum = 0;
        int rows = MiniLmBatch.BATCH / ADAPTERS;
        for (int a = 0; a < ADAPTERS; a++) {
            int i = a;
            try (org.peft4j.api.backend.Scope s = b.scope()) {
                sum += peft.withRowAdapters(route.subList(i * rows, (i + 1) * rows),
                        () -> bert.forward(subIds.get(i), subMasks.get(i), null).slice(0, 0, 1).sum(false).item());
            }
        }
        return sum;
    }

    /**
     * The same 32 rows all on the base model, through the same row routing: the floor a mixed batch
     * can reach, so sequential / baseRows bounds what batching across adapters can gain here.
     */
    @Benchmark
    public float baseRows() {
        try (org.peft4j.api.backend.Scope s = b.scope()) {
            return peft.withRowAdapters(baseRoute, () -> bert.forward(ids, mask, null).slice(0, 0, 1).sum(false).item());
        }
    }

    /** As {@link #sequential}, switching the active adapter before each sub-batch (what serving one adapter at a time costs). */
    @Benchmark
    public float sequentialSwitching() {
        float sum = 0;
        for (int a = 0; a < ADAPTERS; a++) {
            peft.setAdapter("a" + a);
            try (org.peft4j.api.backend.Scope s = b.scope()) {
                sum += bert.forward(subIds.get(a), subMasks.get(a), null).slice(0, 0, 1).sum(false).item();
            }
        }
        return sum;
    }

    @TearDown
    public void tearDown() {
        b.close();
    }
}
