package org.peft4j.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.io.MiniLm;

/**
 * MiniLM forward, batch 32 x 64 tokens: the base encoder, with an unmerged LoRA adapter (r=8 on
 * query and value), and with that adapter merged; on each backend.
 */
public class EncoderForwardBench extends BenchDefaults {
    @Param({"djl", "nd4j"})
    public String backend;

    @Param({"base", "lora", "merged"})
    public String variant;

    private Backend b;
    private BertModel bert;
    private Tensor ids;
    private Tensor mask;

    @Setup
    public void setUp() {
        b = Peft.backend(backend);
        bert = new BertModel(b, MiniLm.config(), MiniLmBatch.weights(), "");
        if (!variant.equals("base")) {
            PeftModel peft = new PeftModel(bert, Peft.registry(), 1);
            peft.addAdapter("default", LoraConfig.builder().r(8).loraAlpha(16).targetModules("query", "value")
                    .initLoraWeights(LoraConfig.InitLoraWeights.RANDOM).build());
            if (variant.equals("merged")) {
                peft.merge("default");
            }
        }
        ids = b.keep(MiniLmBatch.idsTensor(b));
        mask = b.keep(MiniLmBatch.mask(b));
    }

    @Benchmark
    public float forward() {
        try (org.peft4j.api.backend.Scope s = b.scope()) {
            // reading one element forces the lazy engines to finish the whole pass
            return bert.forward(ids, mask, null).slice(0, 0, 1).slice(1, 0, 1).sum(false).item();
        }
    }

    @TearDown
    public void tearDown() {
        b.close();
    }
}
