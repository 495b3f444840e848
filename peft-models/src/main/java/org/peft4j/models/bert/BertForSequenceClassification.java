package org.peft4j.models.bert;

import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Functional;
import org.peft4j.api.nn.Init;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;

/**
 * A BERT encoder ({@code bert.*}) with a classification head ({@code classifier}) on the
 * mean-pooled last hidden state (sentence-transformers models ship no trained pooler), with
 * dropout before the head when training. The head is what HF PEFT's {@code modules_to_save}
 * names for {@code SEQ_CLS}.
 */
public final class BertForSequenceClassification extends Module {
    private final float dropout;

    /** Wraps {@code bert} with a new, seeded head of {@code numLabels} outputs. */
    public BertForSequenceClassification(BertModel bert, int numLabels, long seed) {
        super(bert.backend());
        this.dropout = (float) bert.config().hiddenDropoutProb();
        register("bert", bert);
        long h = bert.config().hiddenSize();
        Init init = new Init(seed);
        register("classifier", new Linear(bert.backend(), init.normal(bert.backend(), 0f, 0.02f, numLabels, h),
                bert.backend().zeros(numLabels)));
    }

    public BertModel bert() {
        return child("bert", BertModel.class);
    }

    /** Logits (batch, labels). */
    public Tensor forward(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds) {
        BertModel bert = bert();
        Tensor hidden = bert.forward(inputIds, attentionMask, tokenTypeIds);
        Tensor pooled = BertModel.meanPool(hidden, bert.fullMask(attentionMask, hidden.size(1) - inputIds.size(1)));
        pooled = Functional.dropout(pooled, dropout, isTraining());
        return child("classifier", LinearLayer.class).forward(pooled);
    }
}
