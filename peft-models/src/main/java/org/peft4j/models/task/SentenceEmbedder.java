package org.peft4j.models.task;

import java.util.ArrayList;
import java.util.List;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.text.Tokenizer;

/**
 * Sentence embeddings as sentence-transformers computes them for MiniLM-style models: the encoder's
 * last hidden state, mean-pooled over the real tokens (soft-prompt positions included when a prompt
 * adapter is active), L2-normalised. Texts go through in batches; each batch's tensors are freed
 * before the next.
 */
public final class SentenceEmbedder {
    private final BertModel bert;
    private final Tokenizer tokenizer;
    private final int maxLength;
    private final int batchSize;

    /**
     * @param bert the encoder (with any adapter already in place)
     * @param maxLength longest token sequence; longer texts are cut
     * @param batchSize texts per forward pass
     */
    public SentenceEmbedder(BertModel bert, Tokenizer tokenizer, int maxLength, int batchSize) {
        if (maxLength < 2 || batchSize < 1) {
            throw new PeftException("max length must be at least 2 and batch size positive, got " + maxLength + " and "
                    + batchSize);
        }
        this.bert = bert;
        this.tokenizer = tokenizer;
        this.maxLength = maxLength;
        this.batchSize = batchSize;
    }

    /** The width of the embeddings: the encoder's hidden size. */
    public int dimension() {
        return bert.config().hiddenSize();
    }

    /**
     * The encoder's last hidden state of {@code enc}, mean-pooled over the real tokens (soft-prompt
     * positions included), not normalised: (batch, hidden). Normalised it is the sentence embedding;
     * as it is, the input of the classification head.
     */
    public static Tensor meanPooled(BertModel bert, Tokenizer.Batch enc) {
        return meanPooled(bert, enc, hidden(bert, enc));
    }

    /** The encoder's last hidden state for {@code enc}: (batch, virtual + seq, hidden). */
    public static Tensor hidden(BertModel bert, Tokenizer.Batch enc) {
        Backend b = bert.backend();
        long[] shape = enc.shape();
        return bert.forward(b.fromLongs(enc.inputIds(), shape), b.fromLongs(enc.attentionMask(), shape),
                b.fromLongs(enc.tokenTypeIds(), shape));
    }

    /** {@code hidden} (from {@link #hidden}) mean-pooled over {@code enc}'s real tokens and any soft-prompt positions. */
    public static Tensor meanPooled(BertModel bert, Tokenizer.Batch enc, Tensor hidden) {
        Tensor mask = bert.backend().fromLongs(enc.attentionMask(), enc.shape());
        return BertModel.meanPool(hidden, bert.fullMask(mask, hidden.size(1) - enc.seqLen()));
    }

    /** One embedding per text, in order. */
    public float[][] embed(List<String> texts) {
        Backend b = bert.backend();
        List<float[]> out = new ArrayList<>();
        for (int start = 0; start < texts.size(); start += batchSize) {
            List<String> batch = texts.subList(start, Math.min(texts.size(), start + batchSize));
            try (Scope s = b.scope()) {
                Tensor pooled = BertModel.l2Normalize(meanPooled(bert, tokenizer.encode(batch, maxLength)));
                float[] v = pooled.toFloatArray();
                int dim = (int) pooled.size(1);
                for (int i = 0; i < batch.size(); i++) {
                    float[] row = new float[dim];
                    System.arraycopy(v, i * dim, row, 0, dim);
                    out.add(row);
                }
            }
        }
        return out.toArray(float[][]::new);
    }
}
