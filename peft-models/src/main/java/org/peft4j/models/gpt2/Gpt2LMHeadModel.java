package org.peft4j.models.gpt2;

import org.peft4j.models.WeightMap;
import org.peft4j.models.decoder.CausalLM;
import org.peft4j.models.decoder.DecoderStack;

/**
 * A GPT-2 causal language model (HF's {@code GPT2LMHeadModel}: {@code transformer.*} and
 * {@code lm_head}, which reuses {@code wte} unless {@code tie_word_embeddings} is false). Load
 * folders with {@link org.peft4j.models.PretrainedDecoder}.
 */
public final class Gpt2LMHeadModel extends CausalLM {
    private final Gpt2Config config;

    /** Builds the model from HF-named weights (or random ones from {@link WeightMap#random}). */
    public Gpt2LMHeadModel(WeightMap w, Gpt2Config config) {
        super(w, "transformer", new Gpt2Model(w, config), new DecoderStack.Shape("gpt2", config.nLayer(), config.vocabSize(), config.nEmbd(), config.nPositions(),
                config.eosTokenId(), config.tieWordEmbeddings()));
        this.config = config;
    }

    public Gpt2Config config() {
        return config;
    }

    public Gpt2Model transformer() {
        return child("transformer", Gpt2Model.class);
    }
}
