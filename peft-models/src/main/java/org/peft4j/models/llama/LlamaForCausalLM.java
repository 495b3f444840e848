package org.peft4j.models.llama;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.io.HostTensor;
import org.peft4j.api.io.Safetensors;
import org.peft4j.api.nn.Embedding;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;
import org.peft4j.models.WeightMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A LLaMA causal language model (HF's {@code LlamaForCausalLM}: {@code model.*} and
 * {@code lm_head}, which reuses the token embeddings when {@code tie_word_embeddings}), with
 * next-token loss and greedy generation over a {@link KvCache}.
 */
public final class LlamaForCausalLM extends Module {
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

    /** Loads an HF folder with {@code config.json} and {@code model.safetensors}. */
    public static LlamaForCausalLM load(Backend backend, Path dir) {
        for (String f : new String[] {"config.json", "model.safetensors"}) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                throw new PeftException("model folder " + dir + " has no " + f + "; expected config.json and model.safetensors");
            }
        }
        LlamaConfig config;
        try {
            config = new ObjectMapper().readValue(dir.resolve("config.json").toFile(), LlamaConfig.class);
        } catch (IOException e) {
            throw new PeftException("cannot read " + dir.resolve("config.json") + ": " + e.getMessage(), e);
        }
        Map<String, HostTensor> weights = Safetensors.read(dir.resolve("model.safetensors"));
        return new LlamaForCausalLM(WeightMap.of(backend, weights, ""), config);
    }

    public LlamaConfig config() {
        return config;
    }

    public LlamaModel model() {
        return child("model", LlamaModel.class);
    }

    /** Logits (batch, virtual + seq, vocab) for the new positions; see {@link LlamaModel#forward}. */
    public Tensor forward(Tensor ids, long[] attentionMask, KvCache cache) {
        Tensor h = model().forward(ids, attentionMask, cache);
        if (config.tieWordEmbeddings()) {
            return h.matmul(model().child("embed_tokens", Embedding.class).weight().value().transposeLast2());
        }
        return child("lm_head", LinearLayer.class).forward(h);
    }

    /**
     * Mean next-token cross-entropy: position t predicts token t + 1; targets that are padding
     * (mask 0) do not count. Virtual prompt positions are skipped.
     *
     * @param ids (batch, seq) INT64
     * @param attentionMask (batch, seq), or null for all tokens
     */
    public Tensor loss(Tensor ids, long[] attentionMask) {
        long batch = ids.size(0);
        long seq = ids.size(1);
        long[] tokens = ids.toLongArray();
        Tensor logits = forward(ids, attentionMask, null);
        long virtual = logits.size(1) - seq;
        int vocab = config.vocabSize();
        long rows = batch * (seq - 1);
        Tensor logProbs = logits.slice(1, virtual, virtual + seq - 1).reshape(rows, vocab).logSoftmax(-1);
        float[] pick = new float[(int) (rows * vocab)];
        int counted = 0;
        for (int r = 0; r < batch; r++) {
            for (int t = 0; t < seq - 1; t++) {
                int target = (int) (r * seq + t + 1);
                if (attentionMask == null || attentionMask[target] != 0) {
                    long token = tokens[target];
                    if (token < 0 || token >= vocab) {
                        throw new PeftException("token id " + token + " is outside the vocabulary of " + vocab);
                    }
                    pick[(int) ((r * (seq - 1) + t) * vocab + token)] = 1f;
                    counted++;
                }
            }
        }
        if (counted == 0) {
            throw new PeftException("no target tokens: sequences need at least two unpadded tokens");
        }
        return logProbs.mul(backend().fromFloats(pick, rows, vocab)).sum(false).mul(-1f / counted);
    }

    /**
     * Greedy decoding: feeds {@code prompt} once, then one token at a time through a KV cache,
     * until {@code maxNewTokens} or {@code eosId}.
     *
     * @param eosId stop after generating this id, or -1 for none
     * @return the generated ids (without the prompt)
     */
    public long[] generate(long[] prompt, int maxNewTokens, long eosId) {
        if (prompt.length == 0 || maxNewTokens < 0) {
            throw new PeftException("generate needs a non-empty prompt and maxNewTokens >= 0, got " + prompt.length
                    + " tokens and " + maxNewTokens);
        }
        boolean wasTraining = isTraining();
        setTraining(false);
        long[] out = new long[maxNewTokens];
        int produced = 0;
        try (KvCache cache = new KvCache(backend(), config.numHiddenLayers())) {
            long[] next = prompt;
            while (produced < maxNewTokens) {
                long token;
                try (Scope s = backend().scope()) {
                    Tensor logits = forward(backend().fromLongs(next, 1, next.length), null, cache);
                    long last = logits.size(1) - 1;
                    float[] row = logits.slice(1, last, last + 1).toFloatArray();
                    token = argmax(row);
                }
                out[produced++] = token;
                if (token == eosId) {
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
