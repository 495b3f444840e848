package org.peft4j.models.task;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Functional;
import org.peft4j.models.bert.BertForSequenceClassification;
import org.peft4j.models.data.Example;
import org.peft4j.models.text.Tokenizer;

/**
 * Sequence classification with a BERT encoder: tokenises examples with dynamic padding, computes
 * logits and the cross-entropy loss, and evaluates accuracy.
 */
public final class TextClassifier {
    private final BertForSequenceClassification model;
    private final Tokenizer tokenizer;
    private final int maxLength;

    /**
     * @param maxLength longest token sequence fed to the model; longer texts are truncated
     */
    public TextClassifier(BertForSequenceClassification model, Tokenizer tokenizer, int maxLength) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.maxLength = maxLength;
    }

    public BertForSequenceClassification model() {
        return model;
    }

    /** Logits (batch, labels) for a batch of examples, padded to its longest member. */
    public Tensor logits(List<Example> batch) {
        return logits(batch, 1);
    }

    private Tensor logits(List<Example> batch, int lengthBucket) {
        Tokenizer.Batch enc = batch.get(0).pair() == null
                ? tokenizer.encode(batch.stream().map(Example::text).toList(), maxLength)
                : tokenizer.encodePairs(batch.stream().map(Example::text).toList(),
                        batch.stream().map(Example::pair).toList(), maxLength);
        enc = tokenizer.padToMultiple(enc, lengthBucket, maxLength);
        Backend b = model.backend();
        long[] shape = {enc.batchSize(), enc.seqLen()};
        return model.forward(b.fromLongs(enc.inputIds(), shape), b.fromLongs(enc.attentionMask(), shape),
                b.fromLongs(enc.tokenTypeIds(), shape));
    }

    /**
     * Mean cross-entropy of a batch, padded to the backend's {@link Backend#lengthBucket} (the
     * padding is masked out: the loss is that of the unpadded batch).
     */
    public Tensor loss(List<Example> batch) {
        return Functional.crossEntropy(logits(batch, model.backend().lengthBucket()), labels(batch));
    }

    private static long[] labels(List<Example> batch) {
        long[] labels = new long[batch.size()];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = batch.get(i).label();
        }
        return labels;
    }

    /**
     * Accuracy and mean loss over {@code examples}, in inference mode, batched by length.
     *
     * @param batchSize examples per forward pass
     */
    public Evaluation evaluate(List<Example> examples, int batchSize) {
        boolean wasTraining = model.isTraining();
        model.setTraining(false);
        List<Example> sorted = new ArrayList<>(examples);
        sorted.sort(Comparator.comparingInt(Example::charLength));
        long correct = 0;
        double lossSum = 0;
        try {
            for (int i = 0; i < sorted.size(); i += batchSize) {
                List<Example> batch = sorted.subList(i, Math.min(sorted.size(), i + batchSize));
                try (Scope s = model.backend().scope()) {
                    Tensor logits = logits(batch);
                    lossSum += Functional.crossEntropy(logits, labels(batch)).item() * batch.size();
                    int[] predicted = Functional.argmaxRows(logits);
                    for (int j = 0; j < predicted.length; j++) {
                        if (predicted[j] == batch.get(j).label()) {
                            correct++;
                        }
                    }
                }
            }
        } finally {
            model.setTraining(wasTraining);
        }
        return new Evaluation((double) correct / sorted.size(), lossSum / sorted.size(), sorted.size());
    }

    /**
     * @param accuracy share of examples classified correctly
     * @param loss mean cross-entropy
     * @param examples how many were evaluated
     */
    public record Evaluation(double accuracy, double loss, int examples) {
    }
}
