package org.peft4j.spark;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Scope;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModel;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.models.bert.BertForSequenceClassification;
import org.peft4j.models.data.Example;
import org.peft4j.models.task.TextClassifier;
import org.peft4j.models.text.Tokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A model with its adapter on an executor, built once per JVM and job and reused by every task
 * after: the base weights never travel, only the trainable tensors (in) and their gradients
 * (out). Workers are borrowed one per running task, so {@code local[N]} (N tasks in one JVM)
 * gets N of them and no two tasks share one.
 */
final class Worker {
    private static final Logger LOG = LoggerFactory.getLogger(Worker.class);
    private static final ExecutorPool<ClassifierJob, Worker> POOL = new ExecutorPool<>(Worker::new);
    /** Runs before every task's work; tests use it to inject a failure. */
    static volatile Runnable beforeTask = () -> { };

    private final Backend backend;
    private final Map<String, Parameter> trainable;
    private final TextClassifier classifier;

    private Worker(ClassifierJob job) {
        long start = System.nanoTime();
        this.backend = Peft.backend(job.backend());
        PretrainedEncoder encoder = PretrainedEncoder.load(job.model());
        BertForSequenceClassification net = encoder.classifier(backend, job.numLabels(), job.seed(),
                job.pooling() == null ? null : BertForSequenceClassification.Pooling.of(job.pooling()));
        PeftModel peft = Peft.factory(backend).create(net, job.seed());
        peft.addAdapter("default", Peft.registry().parseConfig(job.adapterConfig()));
        this.trainable = new LinkedHashMap<>(net.trainableParameters());
        Tokenizer tokenizer = encoder.tokenizer(); // lives as long as the worker: the executor JVM
        this.classifier = new TextClassifier(net, tokenizer, job.maxLength());
        net.setTraining(true);
        LOG.info("worker for {} on {} ready in {} ms", encoder.name(), job.backend(), (System.nanoTime() - start) / 1_000_000);
    }

    /** Runs {@code work} on an idle worker for {@code job}, made first if none is idle. */
    static <T> T with(ClassifierJob job, Function<Worker, T> work) {
        return POOL.with(job, work);
    }

    /**
     * Gradients of the summed loss of {@code rows} at the driver's current weights.
     *
     * @param names the trainable parameters' names, in the order of {@code weights}
     * @param dropoutSeed seeds this task's dropout
     */
    Partial gradients(String[] names, float[][] weights, List<Example> rows, long dropoutSeed) {
        beforeTask.run();
        List<Parameter> params = new ArrayList<>(names.length);
        for (int i = 0; i < names.length; i++) {
            Parameter p = trainable.get(names[i]);
            if (p == null || p.numel() != weights[i].length) {
                throw new PeftException("worker has no trainable parameter " + names[i] + " of " + weights[i].length
                        + " elements; it has " + trainable.keySet());
            }
            p.set(backend.fromFloats(weights[i], p.value().shape()));
            params.add(p);
        }
        backend.seed(dropoutSeed);
        long t0 = System.nanoTime();
        try (Scope s = backend.scope()) {
            float n = rows.size();
            Gradients g = backend.gradients(params, () -> classifier.loss(rows).mul(n));
            float[][] out = new float[names.length][];
            for (int i = 0; i < out.length; i++) {
                out[i] = g.grads().get(i).toFloatArray();
            }
            LOG.debug("gradients of {} rows in {} ms", rows.size(), (System.nanoTime() - t0) / 1_000_000);
            return new Partial(out, rows.size(), g.loss());
        }
    }
}
