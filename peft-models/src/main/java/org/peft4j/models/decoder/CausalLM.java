package org.peft4j.models.decoder;

import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Embedding;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;
import org.peft4j.models.WeightMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A decoder-only causal language model: logits over a {@link KvCache}, next-token loss and greedy
 * generation. Architectures (LLaMA, GPT-2) supply the forward pass; the rest is shared.
 */
public abstract class CausalLM extends Module {
    /** HF's name of the output head when it is not tied to the token embeddings. */
    public static final String LM_HEAD = "lm_head";
    private static final Logger LOG = LoggerFactory.getLogger(CausalLM.class);
    private final String stackName;
    private final DecoderStack.Shape shape;

    /**
     * Registers the decoder stack under its HF name and, unless the head is tied to the token
     * embeddings, {@value #LM_HEAD} (vocab x hidden, no bias); logs the weights nothing took.
     */
    protected <S extends Module & DecoderStack> CausalLM(WeightMap w, String stackName, S stack, DecoderStack.Shape shape) {
        super(w.backend());
        this.stackName = stackName;
        this.shape = shape;
        register(stackName, stack);
        if (!shape.tieWordEmbeddings()) {
            register(LM_HEAD, new Linear(w.backend(), w.take(LM_HEAD + ".weight", shape.vocabSize(), shape.hiddenSize()), null));
        }
        if (!w.unused().isEmpty()) {
            LOG.debug("weights not used by the {} model: {}", shape.modelType(), w.unused());
        }
    }

    /**
     * Logits for the new positions: the last hidden states times {@value #LM_HEAD}, or times the
     * token embeddings when they are tied.
     *
     * @param ids (batch, seq) INT64
     * @param attentionMask (batch * seq) 1 for tokens, 0 for padding; null for all tokens
     * @param cache earlier positions' keys and values, extended by this call; or null
     * @return (batch, virtual + seq, vocab); virtual is a soft prompt's length on the first pass, else 0
     */
    public Tensor forward(Tensor ids, long[] attentionMask, KvCache cache) {
        DecoderStack stack = child(stackName, DecoderStack.class);
        Tensor h = stack.forward(ids, attentionMask, cache);
        Module head = children().get(LM_HEAD);
        return head != null ? ((LinearLayer) head).forward(h)
                : h.matmul(stack.tokenEmbeddings().weight().value().transposeLast2());
    }

    /** Hugging Face's {@code model_type} for this architecture ({@code gpt2}, {@code llama}). */
    /**
     * The base model's name inside this one ({@code transformer} for GPT-2, {@code model} for
     * LLaMA), as HF's {@code *LMHeadModel}/{@code *ForCausalLM} names it.
     */
    public final String innerModelName() {
        return stackName;
    }

    /**
     * {@code adapter} in this model's naming when it was saved on the inner base model
     * ({@code GPT2Model}, {@code LlamaModel}); see {@link org.peft4j.core.io.AdapterFiles#forTaskModel}.
     */
    public final org.peft4j.core.io.AdapterFiles.Loaded adapterNaming(org.peft4j.core.io.AdapterFiles.Loaded adapter) {
        return org.peft4j.core.io.AdapterFiles.forTaskModel(adapter, stackName,
                child(stackName, Module.class).children().keySet());
    }

    public final String modelType() {
        return shape.modelType();
    }

    /** Decoder layers (one cache entry each). */
    public final int numLayers() {
        return shape.numLayers();
    }

    /** Rows of the output vocabulary. */
    public final int vocabSize() {
        return shape.vocabSize();
    }

    /** The longest sequence the model takes, prompt and cache included. */
    public final int maxPositions() {
        return shape.maxPositions();
    }

    /** The config's {@code eos_token_id}s, where generation stops by default; empty when it names none. */
    public final List<Long> eosTokenIds() {
        return shape.eosTokenIds();
    }

    /** An empty cache for this model; close it when done. */
    public KvCache newCache() {
        return new KvCache(backend(), numLayers());
    }

    /**
     * Mean next-token cross-entropy: position t predicts token t + 1; targets that are padding
     * (mask 0) do not count. Virtual prompt positions are skipped.
     *
     * @param ids (batch, seq) INT64
     * @param attentionMask (batch * seq), or null for all tokens
     */
    public Tensor loss(Tensor ids, long[] attentionMask) {
        long batch = ids.size(0);
        long seq = ids.size(1);
        long[] tokens = ids.toLongArray();
        Tensor logits = forward(ids, attentionMask, null);
        long virtual = logits.size(1) - seq;
        int vocab = vocabSize();
        long rows = batch * (seq - 1);
        Tensor logProbs = logits.slice(1, virtual, virtual + seq - 1).reshape(rows, vocab).logSoftmax(-1);
        // pick each counted target's log-probability by its flat index: no (rows x vocab) one-hot on the host
        long[] picks = new long[(int) rows];
        int counted = 0;
        for (int r = 0; r < batch; r++) {
            for (int t = 0; t < seq - 1; t++) {
                int target = (int) (r * seq + t + 1);
                if (attentionMask == null || attentionMask[target] != 0) {
                    long token = tokens[target];
                    if (token < 0 || token >= vocab) {
                        throw new PeftException("token id " + token + " is outside the vocabulary of " + vocab);
                    }
                    picks[counted++] = (r * (seq - 1) + t) * (long) vocab + token;
                }
            }
        }
        if (counted == 0) {
            throw new PeftException("no target tokens: sequences need at least two unpadded tokens");
        }
        Tensor picked = logProbs.reshape(rows * vocab, 1).gather(backend().fromLongs(Arrays.copyOf(picks, counted), counted));
        return picked.sum(false).mul(-1f / counted);
    }

    /**
     * Greedy decoding until {@code maxNewTokens} or {@code eosId}.
     *
     * @param eosId stop after generating this id, or -1 for none
     * @return the generated ids (without the prompt)
     */
    public long[] generate(long[] prompt, int maxNewTokens, long eosId) {
        return generate(prompt, maxNewTokens, eosId < 0 ? List.of() : List.of(eosId));
    }

    /**
     * Greedy decoding: feeds {@code prompt} once, then one token at a time through a KV cache,
     * until {@code maxNewTokens} or one of {@code stopIds} (for example {@link #eosTokenIds()}).
     *
     * @return the generated ids (without the prompt), the stop id included
     */
    public long[] generate(long[] prompt, int maxNewTokens, Collection<Long> stopIds) {
        if (prompt.length == 0 || maxNewTokens < 0) {
            throw new PeftException("generate needs a non-empty prompt and maxNewTokens >= 0, got " + prompt.length
                    + " tokens and " + maxNewTokens);
        }
        boolean wasTraining = isTraining();
        setTraining(false);
        long[] out = new long[maxNewTokens];
        int produced = 0;
        try (KvCache cache = newCache()) {
            long[] next = prompt;
            while (produced < maxNewTokens) {
                long token;
                try (Scope s = backend().scope()) {
                    Tensor logits = forward(backend().fromLongs(next, 1, next.length), null, cache);
                    long last = logits.size(1) - 1;
                    token = argmax(logits.slice(1, last, last + 1).toFloatArray());
                }
                out[produced++] = token;
                if (stopIds.contains(token)) {
                    break;
                }
                next = new long[] {token};
            }
        } finally {
            setTraining(wasTraining);
        }
        return Arrays.copyOf(out, produced);
    }

    private static long argmax(float[] row) {
        int best = 0;
        for (int i = 1; i < row.length; i++) {
            if (row[i] > row[best]) {
                best = i;
            }
        }
        return best;
    }
}
