package org.peft4j.models.llama;

import com.fasterxml.jackson.annotation.JsonFormat;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import org.peft4j.api.PeftException;

/**
 * The fields of a Hugging Face LLaMA {@code config.json} the decoder needs.
 *
 * @param vocabSize rows of the token embedding table
 * @param hiddenSize model width
 * @param intermediateSize SwiGLU width
 * @param numHiddenLayers decoder layers
 * @param numAttentionHeads query heads
 * @param numKeyValueHeads key/value heads (grouped-query attention); the query heads when absent
 * @param maxPositionEmbeddings longest sequence
 * @param rmsNormEps RMSNorm epsilon
 * @param ropeTheta rotary base
 * @param tieWordEmbeddings whether the LM head reuses the token embeddings
 * @param hiddenAct MLP activation ({@code silu} only)
 * @param eosTokenId end-of-sequence ids (one or a list; empty when absent)
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record LlamaConfig(
        @JsonProperty("vocab_size") int vocabSize,
        @JsonProperty("hidden_size") int hiddenSize,
        @JsonProperty("intermediate_size") int intermediateSize,
        @JsonProperty("num_hidden_layers") int numHiddenLayers,
        @JsonProperty("num_attention_heads") int numAttentionHeads,
        @JsonProperty("num_key_value_heads") Integer numKeyValueHeads,
        @JsonProperty("max_position_embeddings") int maxPositionEmbeddings,
        @JsonProperty("rms_norm_eps") Double rmsNormEps,
        @JsonProperty("rope_theta") Double ropeTheta,
        @JsonProperty("tie_word_embeddings") Boolean tieWordEmbeddings,
        @JsonProperty("hidden_act") String hiddenAct,
        @JsonProperty("eos_token_id") @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY)
        List<Long> eosTokenId) {

    public LlamaConfig {
        eosTokenId = eosTokenId == null ? List.of() : List.copyOf(eosTokenId);
        numKeyValueHeads = numKeyValueHeads == null ? numAttentionHeads : numKeyValueHeads;
        rmsNormEps = rmsNormEps == null ? 1e-6 : rmsNormEps;
        ropeTheta = ropeTheta == null ? 10000.0 : ropeTheta;
        tieWordEmbeddings = tieWordEmbeddings != null && tieWordEmbeddings;
        hiddenAct = hiddenAct == null ? "silu" : hiddenAct;
        if (vocabSize <= 0 || hiddenSize <= 0 || intermediateSize <= 0 || numHiddenLayers <= 0
                || numAttentionHeads <= 0 || numKeyValueHeads <= 0 || maxPositionEmbeddings <= 0) {
            throw new PeftException("LLaMA config sizes must be positive: " + this);
        }
        if (hiddenSize % numAttentionHeads != 0 || numAttentionHeads % numKeyValueHeads != 0) {
            throw new PeftException("hidden_size " + hiddenSize + " must divide by num_attention_heads "
                    + numAttentionHeads + ", which must divide by num_key_value_heads " + numKeyValueHeads);
        }
        if ((hiddenSize / numAttentionHeads) % 2 != 0) {
            throw new PeftException("rotary embeddings need an even head width, got " + hiddenSize / numAttentionHeads);
        }
        if (!hiddenAct.equals("silu")) {
            throw new PeftException("hidden_act '" + hiddenAct + "' is not supported; supported: [silu]");
        }
    }

    /** Width of one head. */
    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }
}
