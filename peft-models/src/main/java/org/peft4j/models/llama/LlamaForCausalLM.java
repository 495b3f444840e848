package org.peft4j.models.llama;

import java.util.List;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Embedding;
import org.peft4j.models.WeightMap;
import org.peft4j.models.decoder.CausalLM;
import org.peft4j.models.decoder.KvCache;

/**
 * A LLaMA causal language model (HF's {@code LlamaForCausalLM}: {@code model.*} and
 * {@code lm_head}, which reuses the token embeddings when {@code tie_word_embeddings}). Load
 * folders with {@link org.peft4j.models.PretrainedDecoder}.
 */
public final class LlamaForCausalLM extends CausalLM {
    private final LlamaConfig config;

    /** Builds the model from HF-named weights (or random ones from {@link WeightMap#random}). */
    public LlamaForCausalLM(WeightMap w, LlamaConfig config) {
        super(w.backend());
        this.config = config;
        registerStack(w, "model", new LlamaModel(w, config), config.tieWordEmbeddings(), config.hiddenSize(),
                config.vocabSize());
    }

    public LlamaConfig config() {
        return config;
    }

    public LlamaModel model() {
        return child("model", LlamaModel.class);
    }

    @Override
    protected Tensor hiddenStates(Tensor ids, long[] attentionMask, KvCache cache) {
        return model().forward(ids, attentionMask, cache);
    }

    @Override
    protected Embedding tokenEmbeddings() {
        return model().child("embed_tokens", Embedding.class);
    }

    @Override
    public String modelType() {
        return "llama";
    }

    @Override
    public int numLayers() {
        return config.numHiddenLayers();
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
        return config.maxPositionEmbeddings();
    }
}
