package org.peft4j.models.bert;

import java.util.Map;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.DType;
import org.peft4j.api.backend.Tensor;
import org.peft4j.core.io.HostTensor;
import org.peft4j.api.nn.Module;
import org.peft4j.api.nn.KeyValuePrefix;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.ModuleDict;
import org.peft4j.models.WeightMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A BERT-family encoder (HF's {@code BertModel} without pooler), module paths as in HF:
 * {@code embeddings.*}, {@code encoder.layer.N.*}. Written once on the backend-neutral API.
 */
public final class BertModel extends Module {
    private static final Logger LOG = LoggerFactory.getLogger(BertModel.class);
    private final BertConfig config;

    /**
     * Builds the encoder from HF-named weights.
     *
     * @param prefix prepended to every weight name (for example {@code "bert."}), or ""
     */
    public BertModel(Backend backend, BertConfig config, Map<String, HostTensor> weights, String prefix) {
        this(WeightMap.of(backend, weights, prefix), config);
    }

    /** Builds the encoder from a weight source (pretrained or random). */
    public BertModel(WeightMap w, BertConfig config) {
        super(w.backend());
        this.config = config;
        register("embeddings", new BertEmbeddings(w, config));
        ModuleDict encoder = register("encoder", new ModuleDict(w.backend()));
        ModuleDict layers = encoder.put("layer", new ModuleDict(w.backend()));
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            layers.put(Integer.toString(i), new BertLayer(w, config, i));
        }
        if (w.has("pooler.dense.weight")) {
            long h = config.hiddenSize();
            ModuleDict pooler = register("pooler", new ModuleDict(w.backend()));
            pooler.put("dense", new Linear(w.backend(), w.take("pooler.dense.weight", h, h), w.take("pooler.dense.bias", h)));
        }
        if (!w.unused().isEmpty()) {
            LOG.debug("weights not used by the encoder: {}", w.unused());
        }
    }

    /** Whether the weights carried a pooler ({@code pooler.dense}), as BERT checkpoints and MiniLM do. */
    public boolean hasPooler() {
        return children().containsKey("pooler");
    }

    /**
     * HF's {@code BertPooler}: {@code tanh(dense(hidden[:, 0]))}, the first position's state (the
     * [CLS] token's, or the first virtual token's under a soft prompt, as in HF), (batch, hidden).
     */
    public Tensor pool(Tensor hidden) {
        return poolFirst(hidden.slice(1, 0, 1).reshape(hidden.size(0), hidden.size(2)));
    }

    /** {@link #pool} of first positions already picked out, (batch, hidden): {@code PackedBatch.firstTokens}. */
    public Tensor poolFirst(Tensor first) {
        if (!hasPooler()) {
            throw new PeftException("this encoder has no pooler (its weights carry no pooler.dense); use mean pooling");
        }
        return child("pooler", ModuleDict.class).child("dense", LinearLayer.class).forward(first).tanh();
    }

    public BertConfig config() {
        return config;
    }

    public BertEmbeddings embeddings() {
        return child("embeddings", BertEmbeddings.class);
    }

    /**
     * The last hidden state.
     *
     * @param inputIds (batch, seq) INT64 token ids
     * @param attentionMask (batch, seq), 1 for tokens and 0 for padding (any dtype)
     * @param tokenTypeIds (batch, seq) INT64, or null for all zeros
     * @return (batch, virtual + seq, hidden), where virtual is the prompt length (0 without a prompt)
     */
    public Tensor forward(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds) {
        if (inputIds.rank() != 2 || !java.util.Arrays.equals(inputIds.shape(), attentionMask.shape())) {
            throw new PeftException("input_ids and attention_mask must both be (batch, seq); got "
                    + java.util.Arrays.toString(inputIds.shape()) + " and "
                    + java.util.Arrays.toString(attentionMask.shape()));
        }
        ModuleDict layers = child("encoder", ModuleDict.class).child("layer", ModuleDict.class);
        // prefix tuning's virtual keys count as past positions, as HF's past_key_values_length
        KeyValuePrefix kv = config.numHiddenLayers() == 0 ? null : layers.child("0", BertLayer.class)
                .child("attention", ModuleDict.class).child("self", BertSelfAttention.class).prefix();
        Tensor h = embeddings().forward(inputIds, tokenTypeIds, kv == null ? 0 : kv.length());
        return encode(h, fullMask(attentionMask, h.size(1) - inputIds.size(1)));
    }

    /**
     * The last hidden state of texts packed without padding between them (see {@link PackedBatch}):
     * (sequences, length, hidden), each text's positions as it would get alone. For inference with
     * adapters that work position by position (LoRA, IA3, bottleneck adapters); soft prompts and
     * prefixes, which add positions, are refused.
     */
    public Tensor forward(PackedBatch batch) {
        if (batch.longestText() > config.maxPositionEmbeddings()) {
            throw new PeftException("a text of " + batch.longestText() + " tokens exceeds max_position_embeddings "
                    + config.maxPositionEmbeddings() + "; truncate the input");
        }
        Backend b = backend();
        Tensor h = embeddings().forward(batch.inputIds(b), batch.tokenTypeIds(b), batch.positionIds(b));
        return encode(h, batch.attentionMask(b));
    }

    /** The encoder layers over embedded {@code h}, each seeing {@code mask} (see {@link BertSelfAttention#forward}). */
    private Tensor encode(Tensor h, Tensor mask) {
        ModuleDict layers = child("encoder", ModuleDict.class).child("layer", ModuleDict.class);
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            h = layers.child(Integer.toString(i), BertLayer.class).forward(h, mask);
        }
        return h;
    }

    /** The float mask over every position the encoder outputs, virtual tokens first (always visible). */
    public Tensor fullMask(Tensor attentionMask, long virtual) {
        Tensor mask = attentionMask.dtype() == DType.FLOAT32 ? attentionMask : attentionMask.toType(DType.FLOAT32);
        if (virtual > 0) {
            mask = backend().concat(java.util.List.of(backend().full(1f, mask.size(0), virtual), mask), 1);
        }
        return mask;
    }

    /** Mean of the hidden states over positions where {@code mask} is 1: (batch, hidden). */
    public static Tensor meanPool(Tensor hidden, Tensor mask) {
        Tensor m = mask.reshape(mask.size(0), mask.size(1), 1);
        return hidden.mul(m).sum(false, 1).div(m.sum(false, 1).add(1e-9f));
    }

    /** Rows scaled to unit L2 norm. */
    public static Tensor l2Normalize(Tensor x) {
        return x.div(x.square().sum(true, -1).add(1e-12f).sqrt());
    }
}
