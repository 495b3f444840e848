package org.peft4j.models.llama;

import java.util.List;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Embedding;
import org.peft4j.api.nn.KeyValuePrefix;
import org.peft4j.api.nn.Module;
import org.peft4j.api.nn.ModuleDict;
import org.peft4j.api.nn.PromptPrefix;
import org.peft4j.models.WeightMap;

/**
 * The LLaMA decoder stack (HF's {@code LlamaModel}, paths {@code embed_tokens}, {@code layers.N},
 * {@code norm}) written once on the backend-neutral API. Accepts a {@link PromptPrefix}: virtual
 * tokens go before the first forward pass's tokens and take the first positions.
 */
public final class LlamaModel extends Module implements PromptPrefix.Embeddings {
    private final LlamaConfig config;
    private PromptPrefix prompt;

    LlamaModel(WeightMap w, LlamaConfig c) {
        super(w.backend());
        this.config = c;
        register("embed_tokens", new Embedding(w.backend(), w.take("model.embed_tokens.weight", c.vocabSize(), c.hiddenSize())));
        ModuleDict layers = register("layers", new ModuleDict(w.backend()));
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            layers.put(Integer.toString(i), new LlamaLayer(w, c, i));
        }
        register("norm", new RmsNorm(w.backend(), w.take("model.norm.weight", c.hiddenSize()), c.rmsNormEps().floatValue()));
    }

    public LlamaConfig config() {
        return config;
    }

    @Override
    public void setPrompt(PromptPrefix prompt) {
        this.prompt = prompt;
    }

    @Override
    public PromptPrefix prompt() {
        return prompt;
    }

    @Override
    public Tensor embedTokens(Tensor ids) {
        return child("embed_tokens", Embedding.class).forward(ids);
    }

    /**
     * The last hidden state of the new positions.
     *
     * @param ids (batch, seq) INT64
     * @param attentionMask (batch, seq) 1 for tokens, 0 for padding; null for all tokens
     * @param cache earlier positions' keys and values, extended by this call; or null
     * @return (batch, virtual + seq, hidden); virtual is the prompt length on a cache's first pass, else 0
     */
    public Tensor forward(Tensor ids, long[] attentionMask, KvCache cache) {
        Backend b = backend();
        long batch = ids.size(0);
        long seq = ids.size(1);
        long past = cache == null ? 0 : cache.length();
        Tensor h = embedTokens(ids);
        long[] mask = attentionMask != null ? attentionMask : ones(batch * seq);
        if (mask.length != batch * seq) {
            throw new PeftException("attention mask has " + mask.length + " entries for input (" + batch + ", " + seq + ")");
        }
        if (prompt != null && past == 0) {
            long n = prompt.length();
            h = b.concat(List.of(prompt.embeddings(batch), h), 1);
            long[] withPrompt = new long[(int) (batch * (n + seq))];
            for (int r = 0; r < batch; r++) {
                for (int t = 0; t < n + seq; t++) {
                    withPrompt[(int) (r * (n + seq) + t)] = t < n ? 1 : mask[(int) (r * seq + t - n)];
                }
            }
            mask = withPrompt;
            seq += n;
        }
        if (past + seq > config.maxPositionEmbeddings()) {
            throw new PeftException("sequence of " + (past + seq) + " positions exceeds max_position_embeddings "
                    + config.maxPositionEmbeddings());
        }
        long[] keyMask = cache == null ? mask : cache.appendMask(mask, batch);
        ModuleDict layers = child("layers", ModuleDict.class);
        KeyValuePrefix kvPrefix = layers.child("0", LlamaLayer.class).child("self_attn", LlamaAttention.class).prefix();
        long prefixLen = kvPrefix == null ? 0 : kvPrefix.length();
        Tensor additive = b.fromFloats(additiveMask(keyMask, batch, seq, past, prefixLen), batch, 1, seq,
                prefixLen + past + seq);
        Tensor[] rope = rope(past, seq);
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            h = layers.child(Integer.toString(i), LlamaLayer.class).forward(h, rope, additive, cache);
        }
        if (cache != null) {
            cache.advance(seq);
        }
        return child("norm", RmsNorm.class).forward(h);
    }

    private static long[] ones(long n) {
        long[] m = new long[(int) n];
        java.util.Arrays.fill(m, 1);
        return m;
    }

    /** 0 where query i (absolute position past + i) may see key j, else -1e9; prefix keys are always visible. */
    private static float[] additiveMask(long[] keyMask, long batch, long seq, long past, long prefixLen) {
        long keys = past + seq;
        long total = prefixLen + keys;
        float[] out = new float[(int) (batch * seq * total)];
        for (int r = 0; r < batch; r++) {
            for (int i = 0; i < seq; i++) {
                for (int j = 0; j < total; j++) {
                    boolean visible;
                    if (j < prefixLen) {
                        visible = true;
                    } else {
                        long key = j - prefixLen;
                        visible = key <= past + i && keyMask[(int) (r * keys + key)] != 0;
                    }
                    out[(int) ((r * seq + i) * total + j)] = visible ? 0f : -1e9f;
                }
            }
        }
        return out;
    }

    /** cos and sin for positions past .. past + seq - 1, each (seq, head width), HF's layout (frequencies repeated). */
    private Tensor[] rope(long past, long seq) {
        int d = config.headDim();
        float[] cos = new float[(int) (seq * d)];
        float[] sin = new float[(int) (seq * d)];
        for (int t = 0; t < seq; t++) {
            for (int i = 0; i < d / 2; i++) {
                double invFreq = 1.0 / Math.pow(config.ropeTheta(), 2.0 * i / d);
                double angle = (past + t) * invFreq;
                float c = (float) Math.cos(angle);
                float s = (float) Math.sin(angle);
                cos[t * d + i] = c;
                cos[t * d + i + d / 2] = c;
                sin[t * d + i] = s;
                sin[t * d + i + d / 2] = s;
            }
        }
        return new Tensor[] {backend().fromFloats(cos, seq, d), backend().fromFloats(sin, seq, d)};
    }
}
