package org.peft4j.models.gpt2;

import java.util.List;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Embedding;
import org.peft4j.models.WeightMap;
import org.peft4j.models.decoder.CausalLM;
import org.peft4j.models.decoder.KvCache;

/**
 * A GPT-2 causal language model (HF's {@code GPT2LMHeadModel}: {@code transformer.*} and
 * {@code lm_head}, which reuses {@code wte} unless {@code tie_word_embeddings} is false). Load
 * folders with {@link org.peft4j.models.PretrainedDecoder}.
 */
public final class Gpt2LMHeadModel extends CausalLM {
    private final Gpt2Config config;

    /** Builds the model from HF-named weights ({@code transformer.*}), or random ones from {@link WeightMap#random}. */
    public Gpt2LMHeadModel(WeightMap w, Gpt2Config config) {
        super(w.backend());
        this.config = config;
        registerStack(w, "transformer", new Gpt2Model(w, config), config.tieWordEmbeddings(), config.nEmbd(),
                config.vocabSize());
    }

    public Gpt2Config config() {
        return config;
    }

    public Gpt2Model transformer() {
        return child("transformer", Gpt2Model.class);
    }

    @Override
    protected Tensor hiddenStates(Tensor ids, long[] attentionMask, KvCache cache) {
        return transformer().forward(ids, attentionMask, cache);
    }

    @Override
    protected Embedding tokenEmbeddings() {
        return transformer().child("wte", Embedding.class);
    }

    @Override
    public String modelType() {
        return "gpt2";
    }

    @Override
    public int numLayers() {
        return config.nLayer();
    }

    @Override
    public int vocabSize() {
        return config.vocabSize();
    }

    @Override
    public List<Long> eosTokenIds() {
        return config.eosTokenId();
    }

    @Override
    public int maxPositions() {
        return config.nPositions();
    }
}
