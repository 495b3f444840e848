package org.peft4j.models.decoder;

import java.util.List;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Embedding;

/** The transformer under a {@link CausalLM}'s head (LLaMA's {@code model}, GPT-2's {@code transformer}). */
public interface DecoderStack {

    /**
     * The last hidden state of the new positions.
     *
     * @param ids (batch, seq) INT64
     * @param attentionMask (batch * seq) 1 for tokens, 0 for padding; null for all tokens
     * @param cache earlier positions' keys and values, extended by this call; or null
     * @return (batch, virtual + seq, hidden); virtual is a soft prompt's length on a cache's first pass, else 0
     */
    Tensor forward(Tensor ids, long[] attentionMask, KvCache cache);

    /** The input token embeddings (a tied head reads them). */
    Embedding tokenEmbeddings();

    /**
     * What a causal LM needs to know of its architecture's config.
     *
     * @param modelType Hugging Face's {@code model_type} ({@code gpt2}, {@code llama})
     * @param numLayers decoder layers (one cache entry each)
     * @param vocabSize rows of the output vocabulary
     * @param hiddenSize width of the hidden states
     * @param maxPositions the longest sequence the model takes, prompt and cache included
     * @param eosTokenIds the config's {@code eos_token_id}s; empty when it names none
     * @param tieWordEmbeddings whether the head reuses the token embeddings
     */
    record Shape(String modelType, int numLayers, int vocabSize, long hiddenSize, int maxPositions,
            List<Long> eosTokenIds, boolean tieWordEmbeddings) {
    }
}
