package org.peft4j.core.tuner;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import org.peft4j.api.PeftException;

/**
 * The keys every prompt-learning config has (HF's {@code PromptLearningConfig}); a config record
 * holds them as one component named {@value #KEYS}, read and written as top-level keys. Sizes
 * left out are filled from the model; sizes given must match it.
 *
 * @param numVirtualTokens length of the prompt (required, positive)
 * @param tokenDim width of the token embeddings, or null
 * @param numTransformerSubmodules 1, or 2 for encoder-decoder models; kept for round trips
 * @param numAttentionHeads attention heads of the model, or null
 * @param numLayers transformer layers of the model, or null
 */
@JsonInclude(JsonInclude.Include.ALWAYS)
public record PromptKeys(
        @JsonProperty("num_virtual_tokens") Integer numVirtualTokens,
        @JsonProperty("token_dim") Integer tokenDim,
        @JsonProperty("num_transformer_submodules") Integer numTransformerSubmodules,
        @JsonProperty("num_attention_heads") Integer numAttentionHeads,
        @JsonProperty("num_layers") Integer numLayers) {

    /** The JSON name of a config record's {@code PromptKeys} component. */
    public static final String KEYS = "$prompt";

    public PromptKeys {
        if (numVirtualTokens == null || numVirtualTokens <= 0) {
            throw new PeftException("num_virtual_tokens must be a positive integer, got " + numVirtualTokens);
        }
        for (Integer v : new Integer[] {tokenDim, numTransformerSubmodules, numAttentionHeads, numLayers}) {
            if (v != null && v <= 0) {
                throw new PeftException("token_dim, num_transformer_submodules, num_attention_heads and num_layers must"
                        + " be positive when given; got " + tokenDim + ", " + numTransformerSubmodules + ", "
                        + numAttentionHeads + ", " + numLayers);
            }
        }
    }

    /** {@code n} virtual tokens, every size taken from the model. */
    public static PromptKeys of(int n) {
        return new PromptKeys(n, null, null, null, null);
    }
}
