package org.peft4j.models.gpt2;

import com.fasterxml.jackson.annotation.JsonFormat;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import org.peft4j.api.PeftException;

/**
 * The fields of a Hugging Face GPT-2 {@code config.json} the decoder needs; absent fields take
 * HF's defaults.
 *
 * @param vocabSize rows of the token embedding table
 * @param nPositions rows of the learned position table: the longest sequence
 * @param nEmbd model width
 * @param nLayer blocks
 * @param nHead attention heads
 * @param nInner feed-forward width; 4 * n_embd when absent
 * @param activationFunction {@code gelu_new} (tanh approximation, HF's default), {@code gelu_pytorch_tanh}, {@code gelu} or {@code relu}
 * @param layerNormEpsilon LayerNorm epsilon
 * @param residPdrop dropout after each sub-layer
 * @param embdPdrop dropout on the embeddings
 * @param attnPdrop dropout on the attention probabilities
 * @param scaleAttnWeights divide scores by sqrt(head width)
 * @param scaleAttnByInverseLayerIdx also divide scores by layer index + 1
 * @param tieWordEmbeddings the LM head reuses the token embeddings
 * @param eosTokenId end-of-sequence ids (one or a list; empty when absent)
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record Gpt2Config(
        @JsonProperty("vocab_size") int vocabSize,
        @JsonProperty("n_positions") int nPositions,
        @JsonProperty("n_embd") int nEmbd,
        @JsonProperty("n_layer") int nLayer,
        @JsonProperty("n_head") int nHead,
        @JsonProperty("n_inner") Integer nInner,
        @JsonProperty("activation_function") String activationFunction,
        @JsonProperty("layer_norm_epsilon") Double layerNormEpsilon,
        @JsonProperty("resid_pdrop") Double residPdrop,
        @JsonProperty("embd_pdrop") Double embdPdrop,
        @JsonProperty("attn_pdrop") Double attnPdrop,
        @JsonProperty("scale_attn_weights") Boolean scaleAttnWeights,
        @JsonProperty("scale_attn_by_inverse_layer_idx") Boolean scaleAttnByInverseLayerIdx,
        @JsonProperty("tie_word_embeddings") Boolean tieWordEmbeddings,
        @JsonProperty("eos_token_id") @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY)
        List<Long> eosTokenId) {

    /** Activations this decoder implements. */
    public static final List<String> ACTIVATIONS = List.of("gelu_new", "gelu_pytorch_tanh", "gelu", "relu");

    public Gpt2Config {
        eosTokenId = eosTokenId == null ? List.of() : List.copyOf(eosTokenId);
        nInner = nInner == null ? 4 * nEmbd : nInner;
        activationFunction = activationFunction == null ? "gelu_new" : activationFunction;
        layerNormEpsilon = layerNormEpsilon == null ? 1e-5 : layerNormEpsilon;
        residPdrop = residPdrop == null ? 0.1 : residPdrop;
        embdPdrop = embdPdrop == null ? 0.1 : embdPdrop;
        attnPdrop = attnPdrop == null ? 0.1 : attnPdrop;
        scaleAttnWeights = scaleAttnWeights == null || scaleAttnWeights;
        scaleAttnByInverseLayerIdx = scaleAttnByInverseLayerIdx != null && scaleAttnByInverseLayerIdx;
        tieWordEmbeddings = tieWordEmbeddings == null || tieWordEmbeddings;
        if (vocabSize <= 0 || nPositions <= 0 || nEmbd <= 0 || nLayer <= 0 || nHead <= 0 || nInner <= 0) {
            throw new PeftException("GPT-2 config sizes must be positive: " + this);
        }
        if (nEmbd % nHead != 0) {
            throw new PeftException("n_embd " + nEmbd + " must divide by n_head " + nHead);
        }
        if (!ACTIVATIONS.contains(activationFunction)) {
            throw new PeftException("activation_function '" + activationFunction + "' is not supported; supported: "
                    + ACTIVATIONS);
        }
    }

    /** Width of one head. */
    public int headDim() {
        return nEmbd / nHead;
    }
}
