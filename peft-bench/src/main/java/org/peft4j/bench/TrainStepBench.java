package org.peft4j.bench;

import java.util.List;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Functional;
import org.peft4j.train.AdamW;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.bert.BertForSequenceClassification;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.io.MiniLm;

/**
 * One training step on MiniLM, batch 32 x 64 (forward, backward through the engine's autodiff,
 * AdamW): LoRA r=8 on query and value plus the head, against full fine-tuning. The optimizer
 * state each holds is printed at set-up.
 */
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 5, time = 5)
public class TrainStepBench extends BenchDefaults {
    @Param({"djl", "nd4j"})
    public String backend;

    @Param({"lora", "full"})
    public String method;

    private Backend b;
    private BertForSequenceClassification net;
    private List<Parameter> params;
    private AdamW optimizer;
    private Tensor ids;
    private Tensor mask;
    private final long[] labels = new long[MiniLmBatch.BATCH];

    @Setup
    public void setUp() {
        b = Peft.backend(backend);
        net = new BertForSequenceClassification(new BertModel(b, MiniLm.config(), MiniLmBatch.weights(), ""), 2, 1);
        if (method.equals("lora")) {
            new PeftModel(net, Peft.registry(), 1).addAdapter("default", LoraConfig.builder().r(8).loraAlpha(16)
                    .targetModules("query", "value").modulesToSave("classifier").build());
        } else {
            net.setTrainable(true);
        }
        net.setTraining(true);
        params = List.copyOf(net.trainableParameters().values());
        optimizer = new AdamW(params, AdamW.Options.DEFAULT);
        for (int i = 0; i < labels.length; i++) {
            labels[i] = i % 2;
        }
        ids = b.keep(MiniLmBatch.idsTensor(b));
        mask = b.keep(MiniLmBatch.mask(b));
        System.err.printf("%s %s: %,d trainable parameters, %,d optimizer state elements (%,d bytes)%n", backend,
                method, params.stream().mapToLong(Parameter::numel).sum(), optimizer.stateElements(),
                optimizer.stateElements() * 4);
    }

    @Benchmark
    public float step() {
        try (org.peft4j.api.backend.Scope s = b.scope()) {
            Gradients g = b.gradients(params, () -> Functional.crossEntropy(net.forward(ids, mask, null), labels));
            optimizer.step(g, 1e-5f);
            return g.loss();
        }
    }

    @TearDown
    public void tearDown() {
        optimizer.release();
        b.close();
    }
}
