package org.peft4j.models.decoder;

import java.util.List;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.PromptPrefix;

/**
 * What every decoder layer of one forward pass needs, worked out once per pass: the input
 * embeddings with any soft prompt in front, the absolute position of the first new token, and the
 * additive causal mask over prefix, cached and new keys.
 *
 * <p>Positions follow Hugging Face: a soft prompt (prompt tuning, P-tuning) takes positions
 * 0..n-1 on the first pass; learned key/value prefixes (prefix tuning) count as cached positions,
 * so the first real token sits at position {@code prefix length}, as when HF PEFT hands the
 * prefixes to the model as {@code past_key_values}.
 *
 * @param hidden the embeddings (batch, seq, hidden), prompt included
 * @param seq new positions in this pass, prompt included
 * @param firstPosition absolute position of the first of them
 * @param additiveMask (batch, 1, seq, prefix + cached + seq): 0 where visible, -1e9 elsewhere
 */
public record DecoderInput(Tensor hidden, long seq, long firstPosition, Tensor additiveMask) {

    /**
     * @param embedded token embeddings (batch, seq, hidden)
     * @param attentionMask (batch * seq) 1 for tokens, 0 for padding; null for all tokens
     * @param cache earlier positions, or null; its mask is extended here
     * @param prompt soft prompt to put before the tokens on the first pass, or null
     * @param prefixLength learned key/value prefix length, 0 for none
     * @param maxPositions the model's longest sequence
     */
    public static DecoderInput prepare(Tensor embedded, long[] attentionMask, KvCache cache, PromptPrefix prompt,
            long prefixLength, long maxPositions) {
        Backend b = embedded.backend();
        long batch = embedded.size(0);
        long seq = embedded.size(1);
        long past = cache == null ? 0 : cache.length();
        long[] mask = attentionMask != null ? attentionMask : ones(batch * seq);
        if (mask.length != batch * seq) {
            throw new PeftException("attention mask has " + mask.length + " entries for input (" + batch + ", " + seq + ")");
        }
        Tensor h = embedded;
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
        long first = prefixLength + past;
        if (first + seq > maxPositions) {
            throw new PeftException("sequence of " + (first + seq) + " positions (prefix " + prefixLength + ", cached "
                    + past + ", new " + seq + ") exceeds the model's " + maxPositions + " positions");
        }
        long[] keyMask = cache == null ? mask : cache.appendMask(mask, batch);
        Tensor additive = b.fromFloats(causal(keyMask, batch, seq, past, prefixLength), batch, 1, seq,
                prefixLength + past + seq);
        return new DecoderInput(h, seq, first, additive);
    }

    private static long[] ones(long n) {
        long[] m = new long[(int) n];
        java.util.Arrays.fill(m, 1);
        return m;
    }

    /** 0 where query i (cached index past + i) may see key j, else -1e9; prefix keys are always visible. */
    private static float[] causal(long[] keyMask, long batch, long seq, long past, long prefixLen) {
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
}
