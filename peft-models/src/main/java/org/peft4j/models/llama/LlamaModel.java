package org.peft4j.models.llama;

import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Embedding;
import org.peft4j.api.nn.KeyValuePrefix;
import org.peft4j.api.nn.ModuleDict;
import org.peft4j.api.nn.PromptPrefix;
import org.peft4j.models.PromptableEmbeddings;
import org.peft4j.models.decoder.DecoderStack;
import org.peft4j.models.WeightMap;
import org.peft4j.models.decoder.DecoderInput;
import org.peft4j.models.decoder.KvCache;

/**
 * The LLaMA decoder stack (HF's {@code LlamaModel}, paths {@code embed_tokens}, {@code layers.N},
 * {@code norm}) written once on the backend-neutral API. Accepts a {@link PromptPrefix}; positions
 * as {@link DecoderInput} describes.
 */
public final class LlamaModel extends PromptableEmbeddings implements DecoderStack {
    private final LlamaConfig config;

    LlamaModel(WeightMap w, LlamaConfig c) {
        super(w.backend(), "embed_tokens");
        this.config = c;
        register("embed_tokens", new Embedding(w.backend(), w.take("model.embed_tokens.weight", c.vocabSize(), c.hiddenSize())));
        ModuleDict layers = register("layers", new ModuleDict(w.backend()));
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            layers.put(Integer.toString(i), new LlamaLayer(w, c, i));
        }
        register("norm", new RmsNorm(w.backend(), w.take("model.norm.weight", c.hiddenSize()), c.rmsNormEps().floatValue()));
    }

    public LlamaConfig config() {
        return config;
    }

    /**
     * The last hidden state of the new positions.
     *
     * @param ids (batch, seq) INT64
     * @param attentionMask (batch, seq) 1 for tokens, 0 for padding; null for all tokens
     * @param cache earlier positions' keys and values, extended by this call; or null
     * @return (batch, virtual + seq, hidden); virtual is the prompt length on a cache's first pass, else 0
     */
    @Override
    public Tensor forward(Tensor ids, long[] attentionMask, KvCache cache) {
        ModuleDict layers = child("layers", ModuleDict.class);
        KeyValuePrefix kvPrefix = layers.child("0", LlamaLayer.class).child("self_attn", LlamaAttention.class).prefix();
        DecoderInput in = DecoderInput.prepare(embedTokens(ids), attentionMask, cache, prompt(),
                kvPrefix == null ? 0 : kvPrefix.length(), config.maxPositionEmbeddings());
        Tensor h = in.hidden();
        Tensor[] rope = rope(in.firstPosition(), in.seq());
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            h = layers.child(Integer.toString(i), LlamaLayer.class).forward(h, rope, in.additiveMask(), cache);
        }
        if (cache != null) {
            cache.advance(in.seq());
        }
        return child("norm", RmsNorm.class).forward(h);
    }

    /** cos and sin for positions first .. first + seq - 1, each (seq, head width), HF's layout (frequencies repeated). */
    private Tensor[] rope(long first, long seq) {
        int d = config.headDim();
        float[] cos = new float[(int) (seq * d)];
        float[] sin = new float[(int) (seq * d)];
        for (int t = 0; t < seq; t++) {
            for (int i = 0; i < d / 2; i++) {
                double invFreq = 1.0 / Math.pow(config.ropeTheta(), 2.0 * i / d);
                double angle = (first + t) * invFreq;
                float c = (float) Math.cos(angle);
                float s = (float) Math.sin(angle);
                cos[t * d + i] = c;
                cos[t * d + i + d / 2] = c;
                sin[t * d + i] = s;
                sin[t * d + i + d / 2] = s;
            }
        }
        return new Tensor[] {backend().fromFloats(cos, seq, d), backend().fromFloats(sin, seq, d)};
    }
}
