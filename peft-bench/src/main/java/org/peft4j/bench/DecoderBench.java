package org.peft4j.bench;

import java.util.List;
import java.util.Random;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
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
import org.peft4j.train.AdamW;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.WeightMap;
import org.peft4j.models.decoder.CausalLM;
import org.peft4j.models.gpt2.Gpt2Config;
import org.peft4j.models.gpt2.Gpt2LMHeadModel;

/**
 * The decoder's costs at GPT-2 small's shape (124 M parameters: 12 blocks, width 768, 12 heads,
 * vocabulary 50,257; random weights, which do not change the time): one causal-LM training step
 * on 4 x 128 tokens with LoRA r=8 on {@code c_attn} against full fine-tuning, and greedy
 * generation of 32 tokens after a 32-token prompt.
 */
@BenchmarkMode(Mode.SampleTime)
@Warmup(iterations = 1, time = 10)
@Measurement(iterations = 4, time = 10)
public class DecoderBench extends BenchDefaults {
    private static final int BATCH = 4;
    private static final int SEQ = 128;

    @Param({"djl"})
    public String backend;

    @Param({"lora", "full"})
    public String method;

    private Backend b;
    private CausalLM lm;
    private List<Parameter> params;
    private AdamW optimizer;
    private Tensor ids;
    private final long[] prompt = new long[32];

    @Setup
    public void setUp() {
        b = Peft.backend(backend);
        Gpt2Config config = new Gpt2Config(50257, 1024, 768, 12, 12, null, null, null, null, null, null, null, null,
                null, List.of(50256L));
        lm = new Gpt2LMHeadModel(WeightMap.random(b, 1), config);
        if (method.equals("lora")) {
            new PeftModel(lm, Peft.registry(), 1).addAdapter("default",
                    LoraConfig.builder().r(8).loraAlpha(16).targetModules("c_attn").fanInFanOut(true).build());
        } else {
            lm.setTrainable(true);
        }
        params = List.copyOf(lm.trainableParameters().values());
        optimizer = new AdamW(params, AdamW.Options.DEFAULT);
        Random r = new Random(1);
        long[] tokens = new long[BATCH * SEQ];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = r.nextInt(50257);
        }
        System.arraycopy(tokens, 0, prompt, 0, prompt.length);
        ids = b.keep(b.fromLongs(tokens, BATCH, SEQ));
        System.err.printf("gpt2-small %s: %,d trainable of %,d parameters, %,d optimizer state elements%n", method,
                params.stream().mapToLong(Parameter::numel).sum(),
                lm.namedParameters().values().stream().mapToLong(Parameter::numel).sum(), optimizer.stateElements());
    }

    @Benchmark
    public float trainStep() {
        lm.setTraining(true);
        try (org.peft4j.api.backend.Scope s = b.scope()) {
            Gradients g = b.gradients(params, () -> lm.loss(ids, null));
            optimizer.step(g, 1e-5f);
            return g.loss();
        }
    }

    /** 32 new tokens with the KV cache (the figure to divide into 32 for ms per token). */
    @Benchmark
    public long[] generate32() {
        lm.setTraining(false);
        return lm.generate(prompt, 32, -1);
    }

    @TearDown
    public void tearDown() {
        optimizer.release();
        b.close();
    }
}
