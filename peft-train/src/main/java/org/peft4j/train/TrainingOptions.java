package org.peft4j.train;

import org.peft4j.api.PeftException;

/**
 * How to train.
 *
 * @param epochs passes over the training data
 * @param maxSteps stop after this many optimizer steps (0: no limit)
 * @param learningRate peak learning rate
 * @param weightDecay AdamW's decoupled weight decay
 * @param warmupRatio share of the steps spent warming up
 * @param schedule decay after warm-up
 * @param maxGradNorm clip the global gradient norm to this (0: no clipping)
 * @param gradientAccumulation micro-batches per optimizer step
 * @param seed seeds dropout and shuffling
 * @param logEvery report progress every this many steps
 */
public record TrainingOptions(int epochs, int maxSteps, float learningRate, float weightDecay, float warmupRatio,
        LrSchedule schedule, float maxGradNorm, int gradientAccumulation, long seed, int logEvery) {

    public TrainingOptions {
        if (epochs <= 0) {
            throw new PeftException("epochs must be positive, got " + epochs);
        }
        if (maxSteps < 0) {
            throw new PeftException("max_steps must be >= 0, got " + maxSteps);
        }
        if (!(learningRate > 0) || !Float.isFinite(learningRate)) {
            throw new PeftException("learning_rate must be a positive number, got " + learningRate);
        }
        if (!(warmupRatio >= 0 && warmupRatio < 1)) {
            throw new PeftException("warmup_ratio must be in [0, 1), got " + warmupRatio);
        }
        if (gradientAccumulation <= 0) {
            throw new PeftException("gradient_accumulation must be positive, got " + gradientAccumulation);
        }
        if (maxGradNorm < 0 || weightDecay < 0) {
            throw new PeftException("max_grad_norm and weight_decay must be >= 0, got " + maxGradNorm + ", " + weightDecay);
        }
        if (logEvery <= 0) {
            throw new PeftException("log_every must be positive, got " + logEvery);
        }
    }

    /** Defaults that suit LoRA on a small encoder: lr 1e-3, 1 epoch, 6% warm-up, linear decay, clip 1.0. */
    public static TrainingOptions defaults() {
        return new TrainingOptions(1, 0, 1e-3f, 0.01f, 0.06f, LrSchedule.LINEAR, 1.0f, 1, 42, 10);
    }
}
