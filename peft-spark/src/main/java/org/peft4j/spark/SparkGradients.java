package org.peft4j.spark;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Tensor;
import org.peft4j.models.data.Example;
import org.peft4j.train.Trainer;

/**
 * Data-parallel gradients on Apache Spark for {@link Trainer}: each step broadcasts the trainable
 * tensors (nothing else), splits the global batch into {@code partitions} tasks that compute the
 * gradients of their rows on a base model loaded once per executor ({@link Worker}), and adds them
 * up weighted by rows ({@code treeAggregate}). The driver keeps the parameters and the optimizer:
 * {@link Trainer} clips, steps, schedules and checkpoints as it does in one process, so K steps
 * give the same adapter as one process on the same global batches (with dropout 0).
 *
 * <pre>{@code
 * Trainer<List<Example>> trainer = new Trainer<>(net, options);
 * trainer.train(epoch -> batches, new SparkGradients(sc, job, net.trainableParameters(), 2), List::size, listener);
 * }</pre>
 */
public final class SparkGradients implements Trainer.GradientSource<List<Example>> {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(SparkGradients.class);
    private final JavaSparkContext sc;
    private final ClassifierJob job;
    private final String[] names;
    private final int partitions;
    private final long elements;

    /**
     * @param named the driver's trainable parameters by name, in the order {@link Trainer} hands them over
     * @param partitions tasks per step (at most one per row of a batch)
     */
    public SparkGradients(JavaSparkContext sc, ClassifierJob job, Map<String, Parameter> named, int partitions) {
        if (partitions < 1) {
            throw new PeftException("partitions must be positive, got " + partitions);
        }
        this.sc = sc;
        this.job = job;
        this.names = named.keySet().toArray(String[]::new);
        this.partitions = partitions;
        this.elements = named.values().stream().mapToLong(Parameter::numel).sum();
    }

    /** Tasks per step. */
    public int partitions() {
        return partitions;
    }

    /** Bytes that cross the network in one step: the trainable tensors out once, one set of gradients back per task. */
    public long bytesPerStep() {
        return elements * 4L * (1 + partitions);
    }

    @Override
    public Gradients of(List<Example> batch, List<Parameter> params, int step) {
        if (params.size() != names.length) {
            throw new PeftException("the trainer passed " + params.size() + " parameters; this source was made for "
                    + names.length);
        }
        float[][] weights = new float[params.size()][];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = params.get(i).value().toFloatArray();
        }
        int parts = Math.min(partitions, batch.size());
        List<Rows> slices = new ArrayList<>(parts);
        for (int p = 0; p < parts; p++) {
            slices.add(Rows.of(batch.subList(p * batch.size() / parts, (p + 1) * batch.size() / parts)));
        }
        long t0 = System.nanoTime();
        Broadcast<float[][]> shared = sc.broadcast(weights);
        ClassifierJob job = this.job;
        String[] names = this.names;
        long seed = job.seed() * 1_000_003L + step;
        Partial total;
        try {
            total = sc.parallelize(slices, parts)
                    .map(rows -> Worker.with(job, w -> w.gradients(names, shared.value(), rows.examples(),
                            seed * 31 + rows.texts()[0].hashCode())))
                    .treeAggregate(Partial.EMPTY, Partial::add, Partial::add);
        } finally {
            shared.destroy();
        }
        LOG.debug("step {}: {} tasks in {} ms", step, parts, (System.nanoTime() - t0) / 1_000_000);
        Backend backend = params.get(0).value().backend();
        List<Tensor> grads = new ArrayList<>(names.length);
        float scale = 1f / total.rows();
        for (int i = 0; i < names.length; i++) {
            float[] g = total.grads()[i];
            for (int j = 0; j < g.length; j++) {
                g[j] *= scale;
            }
            grads.add(backend.fromFloats(g, params.get(i).value().shape()));
        }
        return new Gradients((float) (total.lossSum() / total.rows()), grads);
    }
}
