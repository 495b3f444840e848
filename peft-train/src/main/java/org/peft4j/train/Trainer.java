package org.peft4j.train;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Module;
import org.peft4j.train.AdamW;
import org.peft4j.train.GradientClipping;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A training loop for any model and batch type: AdamW on the trainable parameters, warm-up and
 * decay, gradient clipping and accumulation, and a clear stop when the loss is not finite.
 * Progress goes to a {@link Listener} (the CLI draws a bar) and to SLF4J.
 *
 * @param <B> the batch type
 */
public final class Trainer<B> {
    private static final Logger LOG = LoggerFactory.getLogger(Trainer.class);

    /** Told about progress; called on the training thread. */
    public interface Listener {
        /**
         * After each optimizer step.
         *
         * @param step steps done (1-based)
         * @param total steps planned
         * @param loss mean loss of this step's micro-batches
         * @param lr learning rate used
         * @param examples examples seen so far
         */
        void onStep(int step, int total, float loss, float lr, long examples);
    }

    /**
     * What training did.
     *
     * @param steps optimizer steps taken
     * @param skippedSteps steps whose update was skipped because the gradient was not finite
     * @param examples examples seen
     * @param seconds wall-clock seconds
     * @param firstLoss loss of the first step
     * @param lastLoss mean loss of the last {@code logEvery} steps
     */
    public record Result(int steps, int skippedSteps, long examples, double seconds, float firstLoss, float lastLoss) {
    }

    private final Module model;
    private final TrainingOptions options;
    private final Checkpoints checkpoints;

    public Trainer(Module model, TrainingOptions options) {
        this(model, options, null);
    }

    /**
     * A trainer that saves a checkpoint every {@code checkpoints.every()} steps and, when the
     * folder already holds one, resumes from the newest: the run then ends with the same weights
     * as one that was never interrupted (same data, seed and options).
     *
     * @param checkpoints where to save and resume from, or null for none
     */
    public Trainer(Module model, TrainingOptions options, Checkpoints checkpoints) {
        this.model = model;
        this.options = options;
        this.checkpoints = checkpoints;
    }

    /**
     * Trains on {@code epochBatches} (called once per epoch with the epoch index, so it can
     * shuffle), computing each micro-batch's loss with {@code loss}.
     *
     * @param size number of examples in a batch
     */
    public Result train(Function<Integer, List<B>> epochBatches, Function<B, Tensor> loss,
            java.util.function.ToIntFunction<B> size, Listener listener) {
        Backend backend = model.backend();
        return train(epochBatches, (batch, params, step) -> backend.gradients(params, () -> loss.apply(batch)), size,
                listener);
    }

    /**
     * Where a step's gradients come from: this process's autodiff by default; a data-parallel
     * source (Spark) computes them elsewhere. Everything else (clipping, the optimizer, the
     * schedule, checkpoints) stays in {@link Trainer}.
     *
     * @param <B> the batch type
     */
    @FunctionalInterface
    public interface GradientSource<B> {
        /**
         * The mean loss of {@code batch} and its gradients with respect to {@code params}, in that
         * order, as tensors on the model's backend.
         *
         * @param step the optimizer step (0-based) this batch belongs to
         */
        Gradients of(B batch, List<Parameter> params, int step);
    }

    /**
     * As {@link #train(Function, Function, java.util.function.ToIntFunction, Listener)}, with each
     * micro-batch's gradients from {@code gradients}.
     */
    public Result train(Function<Integer, List<B>> epochBatches, GradientSource<B> gradients,
            java.util.function.ToIntFunction<B> size, Listener listener) {
        Backend backend = model.backend();
        Map<String, Parameter> named = model.trainableParameters();
        List<Parameter> params = List.copyOf(named.values());
        if (params.isEmpty()) {
            throw new PeftException("the model has no trainable parameters; add an adapter or unfreeze a module");
        }
        AdamW optimizer = new AdamW(params, new AdamW.Options(0.9f, 0.999f, 1e-8f, options.weightDecay()));
        int perEpoch = epochBatches.apply(0).size() / options.gradientAccumulation();
        int total = perEpoch * options.epochs();
        if (options.maxSteps() > 0) {
            total = Math.min(total, options.maxSteps());
        }
        if (total == 0) {
            throw new PeftException("no optimizer step to take: " + epochBatches.apply(0).size()
                    + " batches per epoch with gradient_accumulation " + options.gradientAccumulation());
        }
        int warmup = (int) Math.ceil(total * options.warmupRatio());
        model.setTraining(true);
        long start = System.nanoTime();
        int step = 0;
        long examples = 0;
        float first = Float.NaN;
        float recent = 0;
        int recentCount = 0;
        int skipped = 0;
        int startEpoch = 0;
        int startBatch = 0;
        if (checkpoints != null) {
            Optional<Checkpoints.Loaded> resume = checkpoints.latest();
            if (resume.isPresent()) {
                Checkpoints.restore(resume.get(), named, optimizer);
                Checkpoints.Position at = resume.get().position();
                step = at.step();
                startEpoch = at.epoch();
                startBatch = at.batch();
                examples = at.examples();
                skipped = at.skipped();
                first = at.firstLoss();
                LOG.info("resuming from the checkpoint at step {} in {}", step, checkpoints.dir());
            }
        }
        try {
            outer:
            for (int epoch = startEpoch; epoch < options.epochs(); epoch++) {
                List<B> batches = epoch == 0 ? epochBatches.apply(0) : epochBatches.apply(epoch);
                int from = epoch == startEpoch ? startBatch : 0;
                for (int i = from; i + options.gradientAccumulation() <= batches.size(); i += options.gradientAccumulation()) {
                    if (step >= total) {
                        break outer;
                    }
                    // dropout is seeded per step, so a resumed run draws the same masks
                    backend.seed(options.seed() * 1_000_003L + step);
                    float lr = options.schedule().at(step, total, warmup, options.learningRate());
                    float stepLoss;
                    try (Scope s = backend.scope()) {
                        Gradients sum = null;
                        float lossSum = 0;
                        for (int a = 0; a < options.gradientAccumulation(); a++) {
                            B batch = batches.get(i + a);
                            Gradients g = gradients.of(batch, params, step);
                            if (!Float.isFinite(g.loss())) {
                                throw new PeftException("loss became " + g.loss() + " at step " + (step + 1)
                                        + " (epoch " + (epoch + 1) + "); lower the learning rate (now " + lr + ")");
                            }
                            lossSum += g.loss();
                            sum = sum == null ? g : add(sum, g);
                            examples += size.applyAsInt(batch);
                        }
                        stepLoss = lossSum / options.gradientAccumulation();
                        Gradients mean = options.gradientAccumulation() == 1 ? sum : GradientClipping.scale(sum, 1f / options.gradientAccumulation());
                        float norm = GradientClipping.norm(mean);
                        if (!Float.isFinite(norm)) {
                            // a finite loss with a non-finite gradient: skip the update, as AMP's GradScaler does
                            skipped++;
                            LOG.warn("step {}: gradient norm is {} with loss {}; update skipped ({} so far)", step + 1,
                                    norm, stepLoss, skipped);
                            if (skipped > Math.max(3, total / 20)) {
                                throw new PeftException(skipped + " steps had non-finite gradients (last at step "
                                        + (step + 1) + "); lower the learning rate (now " + lr + ")");
                            }
                        } else {
                            if (options.maxGradNorm() > 0 && norm > options.maxGradNorm()) {
                                mean = GradientClipping.scale(mean, options.maxGradNorm() / (norm + 1e-6f));
                            }
                            optimizer.step(mean, lr);
                        }
                    }
                    step++;
                    if (step == 1) {
                        first = stepLoss;
                    }
                    recent += stepLoss;
                    recentCount++;
                    listener.onStep(step, total, stepLoss, lr, examples);
                    if (checkpoints != null && step % checkpoints.every() == 0 && step < total) {
                        checkpoints.save(new Checkpoints.Position(step, epoch, i + options.gradientAccumulation(),
                                examples, skipped, first), named, optimizer);
                    }
                    if (step % options.logEvery() == 0 || step == total) {
                        LOG.debug("step {}/{} loss {} lr {}", step, total, recent / recentCount, lr);
                        if (step != total) {
                            recent = 0;
                            recentCount = 0;
                        }
                    }
                }
            }
        } finally {
            model.setTraining(false);
            optimizer.release();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return new Result(step, skipped, examples, seconds, first, recentCount == 0 ? first : recent / recentCount);
    }

    private static Gradients add(Gradients a, Gradients b) {
        List<Tensor> out = new ArrayList<>();
        for (int i = 0; i < a.grads().size(); i++) {
            out.add(a.grads().get(i).add(b.grads().get(i)));
        }
        return new Gradients(a.loss() + b.loss(), out);
    }
}
