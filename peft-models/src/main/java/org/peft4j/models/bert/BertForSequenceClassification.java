package org.peft4j.models.bert;

import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Functional;
import org.peft4j.api.nn.Init;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;

/**
 * A BERT encoder ({@code bert.*}) with a classification head ({@code classifier}), with dropout
 * before the head when training. By default the head reads what HF's
 * {@code BertForSequenceClassification} reads, the pooler's output ([CLS] -> {@code pooler.dense}
 * -> tanh), so an adapter trained here predicts the same in HF; an encoder without a pooler, or
 * {@link Pooling#MEAN} on request, uses the mean of the last hidden state instead. The head is what
 * HF PEFT's {@code modules_to_save} names for {@code SEQ_CLS}.
 */
public final class BertForSequenceClassification extends Module {
    /**
     * The key a mean-pooling classification adapter carries in {@code adapter_config.json}, so
     * that Hugging Face PEFT does not read it as a [CLS]-pooler classifier: PEFT 0.10 to 0.13
     * refuse the unknown key, later versions drop it with a warning naming it.
     */
    public static final String POOLING_KEY = "peft4j_pooling";

    /** What the head reads. */
    public enum Pooling {
        /** HF's: the pooler's output for the first position. */
        CLS_POOLER,
        /** The mean of the last hidden state over real tokens (sentence-transformers' sentence vector). */
        MEAN;

        /** The value of {@link #POOLING_KEY} for this pooling ({@code "cls_pooler"}, {@code "mean"}). */
        public String key() {
            return this == MEAN ? "mean" : "cls_pooler";
        }

        /** The pooling {@code value} names; null is HF's (the pooler). */
        public static Pooling of(Object value) {
            if (value == null || "cls_pooler".equals(value)) {
                return CLS_POOLER;
            }
            if ("mean".equals(value)) {
                return MEAN;
            }
            throw new org.peft4j.api.PeftException(POOLING_KEY + " must be \"cls_pooler\" or \"mean\", got " + value);
        }
    }

    private final float dropout;
    private final Pooling pooling;

    /** Wraps {@code bert} with a new, seeded head of {@code numLabels} outputs on HF's pooler output (mean pooling if there is no pooler). */
    public BertForSequenceClassification(BertModel bert, int numLabels, long seed) {
        this(bert, numLabels, seed, bert.hasPooler() ? Pooling.CLS_POOLER : Pooling.MEAN);
    }

    /** Wraps {@code bert} with a new, seeded head of {@code numLabels} outputs reading {@code pooling}. */
    public BertForSequenceClassification(BertModel bert, int numLabels, long seed, Pooling pooling) {
        super(bert.backend());
        if (pooling == Pooling.CLS_POOLER && !bert.hasPooler()) {
            throw new org.peft4j.api.PeftException("the encoder has no pooler (no pooler.dense weights), so its "
                    + "classifier cannot read [CLS] -> pooler as HF does; use mean pooling");
        }
        this.pooling = pooling;
        this.dropout = (float) bert.config().hiddenDropoutProb();
        register("bert", bert);
        long h = bert.config().hiddenSize();
        Init init = new Init(seed);
        register("classifier", new Linear(bert.backend(), init.normal(bert.backend(), 0f, 0.02f, numLabels, h),
                bert.backend().zeros(numLabels)));
    }

    /**
     * {@code adapter} in this model's naming when it was saved on a {@code BertModel} (an embedding
     * adapter, {@code base_model.model.encoder...}); see {@link org.peft4j.core.io.AdapterFiles#forTaskModel}.
     */
    public org.peft4j.core.io.AdapterFiles.Loaded adapterNaming(org.peft4j.core.io.AdapterFiles.Loaded adapter) {
        return org.peft4j.core.io.AdapterFiles.forTaskModel(adapter, "bert", bert().children().keySet());
    }

    /** What the head reads. */
    public Pooling pooling() {
        return pooling;
    }

    public BertModel bert() {
        return child("bert", BertModel.class);
    }

    /** Logits (batch, labels). */
    public Tensor forward(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds) {
        BertModel bert = bert();
        Tensor hidden = bert.forward(inputIds, attentionMask, tokenTypeIds);
        Tensor pooled = pooling == Pooling.CLS_POOLER ? bert.pool(hidden)
                : BertModel.meanPool(hidden, bert.fullMask(attentionMask, hidden.size(1) - inputIds.size(1)));
        pooled = Functional.dropout(pooled, dropout, isTraining());
        return child("classifier", LinearLayer.class).forward(pooled);
    }
}
