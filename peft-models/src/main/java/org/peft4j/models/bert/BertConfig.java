package org.peft4j.models.bert;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import org.peft4j.api.PeftException;

/**
 * The fields of a Hugging Face BERT-family {@code config.json} that the encoder needs.
 *
 * @param vocabSize rows of the word embedding table
 * @param hiddenSize model width
 * @param numHiddenLayers number of encoder layers
 * @param numAttentionHeads attention heads per layer
 * @param intermediateSize feed-forward width
 * @param hiddenAct feed-forward activation ({@code gelu} only)
 * @param maxPositionEmbeddings rows of the position embedding table
 * @param typeVocabSize rows of the token-type embedding table
 * @param layerNormEps LayerNorm epsilon
 * @param hiddenDropoutProb dropout after embeddings and sub-layers when training
 * @param attentionProbsDropoutProb dropout on attention probabilities when training
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record BertConfig(
        @JsonProperty("vocab_size") int vocabSize,
        @JsonProperty("hidden_size") int hiddenSize,
        @JsonProperty("num_hidden_layers") int numHiddenLayers,
        @JsonProperty("num_attention_heads") int numAttentionHeads,
        @JsonProperty("intermediate_size") int intermediateSize,
        @JsonProperty("hidden_act") String hiddenAct,
        @JsonProperty("max_position_embeddings") int maxPositionEmbeddings,
        @JsonProperty("type_vocab_size") int typeVocabSize,
        @JsonProperty("layer_norm_eps") double layerNormEps,
        @JsonProperty("hidden_dropout_prob") double hiddenDropoutProb,
        @JsonProperty("attention_probs_dropout_prob") double attentionProbsDropoutProb) {

    public BertConfig {
        hiddenAct = hiddenAct == null ? "gelu" : hiddenAct;
        layerNormEps = layerNormEps == 0 ? 1e-12 : layerNormEps;
        if (vocabSize <= 0 || hiddenSize <= 0 || numHiddenLayers <= 0 || numAttentionHeads <= 0
                || intermediateSize <= 0 || maxPositionEmbeddings <= 0 || typeVocabSize <= 0) {
            throw new PeftException("BERT config sizes must be positive: " + this);
        }
        if (hiddenSize % numAttentionHeads != 0) {
            throw new PeftException("hidden_size " + hiddenSize + " is not divisible by num_attention_heads "
                    + numAttentionHeads);
        }
        if (!hiddenAct.equals("gelu")) {
            throw new PeftException("hidden_act '" + hiddenAct + "' is not supported; supported: [gelu]");
        }
    }

    /** all-MiniLM-L6-v2 (sentence-transformers), as in its config.json. */
    public static BertConfig miniLmL6() {
        return new BertConfig(30522, 384, 6, 12, 1536, "gelu", 512, 2, 1e-12, 0.1, 0.1);
    }
}
