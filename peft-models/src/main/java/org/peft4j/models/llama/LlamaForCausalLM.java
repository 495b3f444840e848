package org.peft4j.models.llama;

import java.nio.file.Path;
import java.util.List;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Embedding;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.models.PretrainedDecoder;
import org.peft4j.models.WeightMap;
import org.peft4j.models.decoder.CausalLM;
import org.peft4j.models.decoder.KvCache;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A LLaMA causal language model (HF's {@code LlamaForCausalLM}: {@code model.*} and
 * {@code lm_head}, which reuses the token embeddings when {@code tie_word_embeddings}).
 */
public final class LlamaForCausalLM extends CausalLM {
    private static final Logger LOG = LoggerFactory.getLogger(LlamaForCausalLM.class);
    private final LlamaConfig config;

    /** Builds the model from HF-named weights (or random ones from {@link WeightMap#random}). */
    public LlamaForCausalLM(WeightMap w, LlamaConfig config) {
        super(w.backend());
        this.config = config;
        register("model", new LlamaModel(w, config));
        if (!config.tieWordEmbeddings()) {
            register("lm_head", LlamaAttention.linear(w, "lm_head", config.hiddenSize(), config.vocabSize()));
        }
        if (!w.unused().isEmpty()) {
            LOG.debug("weights not used by the LLaMA model: {}", w.unused());
        }
    }

    /** Loads an HF LLaMA folder with {@code config.json} and {@code model.safetensors}. */
    public static LlamaForCausalLM load(Backend backend, Path dir) {
        CausalLM model = PretrainedDecoder.load(backend, dir);
        if (model instanceof LlamaForCausalLM llama) {
            return llama;
        }
        throw new PeftException(dir + " holds a " + model.getClass().getSimpleName() + ", not a LLaMA model");
    }

    public LlamaConfig config() {
        return config;
    }

    public LlamaModel model() {
        return child("model", LlamaModel.class);
    }

    @Override
    public Tensor forward(Tensor ids, long[] attentionMask, KvCache cache) {
        Tensor h = model().forward(ids, attentionMask, cache);
        if (config.tieWordEmbeddings()) {
            return h.matmul(model().child("embed_tokens", Embedding.class).weight().value().transposeLast2());
        }
        return child("lm_head", LinearLayer.class).forward(h);
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
