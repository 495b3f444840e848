package org.peft4j.models.gpt2;

import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Functional;
import org.peft4j.api.nn.InsertionPoint;
import org.peft4j.api.nn.KeyValuePrefix;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.models.PrefixableAttention;
import org.peft4j.models.WeightMap;
import org.peft4j.models.decoder.CausalAttention;
import org.peft4j.models.decoder.KvCache;

/**
 * GPT-2's causal self-attention with HF's names: {@code c_attn} (one projection to queries, keys
 * and values, in that order), {@code c_proj}, and the {@link InsertionPoint} {@code adapter} the
 * block applies to this sub-layer's output. The checkpoint stores both projections as
 * {@code Conv1D}, (in, out); they are held as ordinary linear layers, (out, in), so LoRA's
 * {@code lora_A} (r x in) and {@code lora_B} (out x r) match HF PEFT's with
 * {@code fan_in_fan_out = true}.
 */
public final class Gpt2Attention extends PrefixableAttention {
    private final Gpt2Config config;

    Gpt2Attention(WeightMap w, Gpt2Config c, String path, int layerIndex) {
        super(w.backend(), layerIndex, c.nHead(), c.headDim());
        this.config = c;
        long n = c.nEmbd();
        register("c_attn", conv1d(w, path + ".c_attn", n, 3 * n));
        register("c_proj", conv1d(w, path + ".c_proj", n, n));
        register("adapter", new InsertionPoint(w.backend(), n, n));
    }

    /** A Conv1D checkpoint weight (in, out) and bias (out) as a {@link Linear}. */
    static Linear conv1d(WeightMap w, String path, long in, long out) {
        return new Linear(w.backend(), w.takeTransposed(path + ".weight", in, out), w.take(path + ".bias", out));
    }






    /**
     * @param x hidden states after {@code ln_1}, (batch, seq, n_embd)
     * @param mask additive mask (batch, 1, seq, prefix + past + seq)
     * @param cache keys and values of earlier positions, or null
     * @return the sub-layer output after {@code c_proj} and residual dropout
     */
    Tensor forward(Tensor x, Tensor mask, KvCache cache) {
        long n = config.nEmbd();
        long d = config.headDim();
        Tensor qkv = child("c_attn", LinearLayer.class).forward(x);
        Tensor q = splitHeads(qkv.slice(2, 0, n), config.nHead(), d);
        Tensor k = splitHeads(qkv.slice(2, n, 2 * n), config.nHead(), d);
        Tensor v = splitHeads(qkv.slice(2, 2 * n, 3 * n), config.nHead(), d);
        double scale = config.scaleAttnWeights() ? 1.0 / Math.sqrt(d) : 1.0;
        if (config.scaleAttnByInverseLayerIdx()) {
            scale /= layerIndex() + 1;
        }
        Tensor context = CausalAttention.attend(q, k, v, layerIndex(), cache, prefix(), mask, (float) scale,
                (float) config.attnPdrop().doubleValue(), isTraining());
        return Functional.dropout(child("c_proj", LinearLayer.class).forward(context),
                (float) config.residPdrop().doubleValue(), isTraining());
    }
}
