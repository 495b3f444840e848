package org.peft4j.models.task;

import org.peft4j.api.PeftException;
import org.peft4j.core.PeftModelFactory;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Parameter;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.core.io.HostTensor;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.models.bert.BertForSequenceClassification;

/**
 * A pretrained encoder with its classification head and an optional adapter folder, ready for
 * inference: what the CLI's eval, embed and merge and the LangChain4j embedding model work on.
 */
public final class Classifiers {
    private Classifiers() {
    }

    /**
     * A classifier ready for inference.
     *
     * @param net the model
     * @param peft the adapter wrapper, or null without an adapter
     * @param count trainable (adapter) and total parameters
     */
    public record Loaded(BertForSequenceClassification net, PeftModel peft, PeftModel.ParameterCount count) {
    }

    /**
     * A trained classification head as an adapter file holds it ({@code modules_to_save}).
     *
     * @param weight (labels, hidden)
     * @param bias (labels)
     */
    public record Head(HostTensor weight, HostTensor bias) {
        /** The number of classes. */
        public int labels() {
            return (int) weight.shape()[0];
        }
    }

    /**
     * What the adapter's head reads: {@link BertForSequenceClassification.Pooling#MEAN} when its
     * config says {@value BertForSequenceClassification#POOLING_KEY}: "mean", else null (HF's pooler).
     */
    public static BertForSequenceClassification.Pooling pooling(AdapterFiles.Loaded adapter) {
        Object value = adapter.config().extras().get(BertForSequenceClassification.POOLING_KEY);
        return value == null ? null : BertForSequenceClassification.Pooling.of(value);
    }

    /** Whether an adapter file's tensor {@code key} is the classification head's ({@code ...classifier.weight/bias}). */
    public static boolean isHeadTensor(String key) {
        return key.endsWith(".classifier.weight") || key.endsWith(".classifier.bias");
    }

    /** The classification head the adapter saved, or null when it saved none; a half head or mismatched shapes fail. */
    public static Head head(AdapterFiles.Loaded adapter) {
        HostTensor w = null;
        HostTensor b = null;
        for (var e : adapter.tensors().entrySet()) {
            if (e.getKey().endsWith(".classifier.weight")) {
                w = e.getValue();
            } else if (e.getKey().endsWith(".classifier.bias")) {
                b = e.getValue();
            }
        }
        if (w == null && b == null) {
            return null;
        }
        if (w == null || b == null || w.shape().length != 2 || b.shape().length != 1 || b.shape()[0] != w.shape()[0]) {
            throw new PeftException("the adapter's classification head is malformed: classifier.weight "
                    + (w == null ? "missing" : java.util.Arrays.toString(w.shape())) + ", classifier.bias "
                    + (b == null ? "missing" : java.util.Arrays.toString(b.shape())) + "; expected (labels, hidden) and (labels)");
        }
        return new Head(w, b);
    }

    /**
     * The model with {@code adapter} loaded as {@code default}. The number of labels comes from
     * the adapter's saved head, else the model folder's head, else {@code dataLabels}.
     */
    public static Loaded load(PretrainedEncoder encoder, PeftModelFactory factory, AdapterFiles.Loaded adapter, int dataLabels) {
        int labels = encoder.headLabels() > 0 ? encoder.headLabels() : dataLabels;
        Head head = adapter == null ? null : head(adapter);
        if (head != null) {
            labels = head.labels();
        }
        BertForSequenceClassification net = encoder.classifier(factory.backend(), labels, 42,
                adapter == null ? null : pooling(adapter));
        if (adapter == null) {
            long n = net.namedParameters().values().stream().mapToLong(Parameter::numel).sum();
            return new Loaded(net, null, new PeftModel.ParameterCount(0, n));
        }
        PeftModel peft = factory.create(net, 42);
        peft.loadAdapter("default", net.adapterNaming(adapter));
        net.setTraining(false);
        return new Loaded(net, peft, peft.parameterCount());
    }
}
