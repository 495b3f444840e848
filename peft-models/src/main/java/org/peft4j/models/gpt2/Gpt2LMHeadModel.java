package org.peft4j.models.gpt2;

import java.util.List;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Embedding;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.models.WeightMap;
import org.peft4j.models.decoder.CausalLM;
import org.peft4j.models.decoder.KvCache;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A GPT-2 causal language model (HF's {@code GPT2LMHeadModel}: {@code transformer.*} and
 * {@code lm_head}, which reuses {@code wte} unless {@code tie_word_embeddings} is false). Load
 * folders with {@link org.peft4j.models.PretrainedDecoder}.
 */
public final class Gpt2LMHeadModel extends CausalLM {
    private static final Logger LOG = LoggerFactory.getLogger(Gpt2LMHeadModel.class);
    private final Gpt2Config config;

    /** Builds the model from HF-named weights ({@code transformer.*}), or random ones from {@link WeightMap#random}. */
    public Gpt2LMHeadModel(WeightMap w, Gpt2Config config) {
        super(w.backend());
        this.config = config;
        register("transformer", new Gpt2Model(w, config));
        if (!config.tieWordEmbeddings()) {
            register("lm_head", new Linear(w.backend(), w.take("lm_head.weight", config.vocabSize(), config.nEmbd()), null));
        }
        if (!w.unused().isEmpty()) {
            LOG.debug("weights not used by the GPT-2 model: {}", w.unused());
        }
    }

    public Gpt2Config config() {
        return config;
    }

    public Gpt2Model transformer() {
        return child("transformer", Gpt2Model.class);
    }

    @Override
    public Tensor forward(Tensor ids, long[] attentionMask, KvCache cache) {
        Tensor h = transformer().forward(ids, attentionMask, cache);
        if (config.tieWordEmbeddings()) {
            return h.matmul(transformer().child("wte", Embedding.class).weight().value().transposeLast2());
        }
        return child("lm_head", LinearLayer.class).forward(h);
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
