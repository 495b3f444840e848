package org.peft4j.models.gpt2;

import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Embedding;
import org.peft4j.api.nn.Functional;
import org.peft4j.api.nn.KeyValuePrefix;
import org.peft4j.api.nn.LayerNorm;
import org.peft4j.api.nn.ModuleDict;
import org.peft4j.api.nn.PromptPrefix;
import org.peft4j.models.PromptableEmbeddings;
import org.peft4j.models.decoder.DecoderStack;
import org.peft4j.models.WeightMap;
import org.peft4j.models.decoder.DecoderInput;
import org.peft4j.models.decoder.KvCache;

/**
 * The GPT-2 decoder stack (HF's {@code GPT2Model}: {@code wte}, {@code wpe}, {@code h.N},
 * {@code ln_f}) on the backend-neutral API. Learned absolute positions; accepts a
 * {@link PromptPrefix}, positions as {@link DecoderInput} describes.
 */
public final class Gpt2Model extends PromptableEmbeddings implements DecoderStack {
    private final Gpt2Config config;

    Gpt2Model(WeightMap w, Gpt2Config c) {
        super(w.backend(), "wte");
        this.config = c;
        register("wte", new Embedding(w.backend(), w.take("transformer.wte.weight", c.vocabSize(), c.nEmbd())));
        register("wpe", new Embedding(w.backend(), w.take("transformer.wpe.weight", c.nPositions(), c.nEmbd())));
        ModuleDict h = register("h", new ModuleDict(w.backend()));
        for (int i = 0; i < c.nLayer(); i++) {
            h.put(Integer.toString(i), new Gpt2Block(w, c, "transformer.h." + i, i));
        }
        register("ln_f", Gpt2Block.layerNorm(w, "transformer.ln_f", c.nEmbd(), c.layerNormEpsilon().floatValue()));
    }

    public Gpt2Config config() {
        return config;
    }

    /** The last hidden state of the new positions, (batch, virtual + seq, n_embd); see {@link DecoderInput}. */
    @Override
    public Tensor forward(Tensor ids, long[] attentionMask, KvCache cache) {
        ModuleDict blocks = child("h", ModuleDict.class);
        KeyValuePrefix kvPrefix = blocks.child("0", Gpt2Block.class).child("attn", Gpt2Attention.class).prefix();
        DecoderInput in = DecoderInput.prepare(embedTokens(ids), attentionMask, cache, prompt(),
                kvPrefix == null ? 0 : kvPrefix.length(), config.nPositions());
        long[] positions = new long[(int) in.seq()];
        for (int t = 0; t < positions.length; t++) {
            positions[t] = in.firstPosition() + t;
        }
        Tensor pos = child("wpe", Embedding.class).forward(backend().fromLongs(positions, positions.length));
        Tensor h = Functional.dropout(in.hidden().add(pos), (float) config.embdPdrop().doubleValue(), isTraining());
        for (int i = 0; i < config.nLayer(); i++) {
            h = blocks.child(Integer.toString(i), Gpt2Block.class).forward(h, in.additiveMask(), cache);
        }
        if (cache != null) {
            cache.advance(in.seq());
        }
        return child("ln_f", LayerNorm.class).forward(h);
    }
}
