package org.peft4j.models.llama;

import org.peft4j.models.WeightMap;
import org.peft4j.models.decoder.CausalLM;
import org.peft4j.models.decoder.DecoderStack;

/**
 * A LLaMA causal language model (HF's {@code LlamaForCausalLM}: {@code model.*} and
 * {@code lm_head}, which reuses the token embeddings when {@code tie_word_embeddings}). Load
 * folders with {@link org.peft4j.models.PretrainedDecoder}.
 */
public final class LlamaForCausalLM extends CausalLM {
    private final LlamaConfig config;

    /** Builds the model from HF-named weights (or random ones from {@link WeightMap#random}). */
    public LlamaForCausalLM(WeightMap w, LlamaConfig config) {
        super(w, "model", new LlamaModel(w, config), new DecoderStack.Shape("llama", config.numHiddenLayers(), config.vocabSize(), config.hiddenSize(),
                config.maxPositionEmbeddings(), config.eosTokenId(), config.tieWordEmbeddings()));
        this.config = config;
    }

    public LlamaConfig config() {
        return config;
    }

    public LlamaModel model() {
        return child("model", LlamaModel.class);
    }
}
