package org.peft4j.examples.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.train.LrSchedule;
import org.peft4j.train.TrainingOptions;
import picocli.CommandLine.Option;

/** The optimisation and method-config flags {@code train} and {@code train-lm} share, and the options they make. */
final class TrainingFlags {
    @Option(names = "--epochs", defaultValue = "1")
    int epochs;

    @Option(names = "--max-steps", defaultValue = "0", description = "Stop after this many steps (0: no limit)")
    int maxSteps;

    @Option(names = "--lr", description = "Peak learning rate. Default: the method's (1e-3 for LoRA)")
    Float lr;

    @Option(names = "--weight-decay", defaultValue = "0.01")
    float weightDecay;

    @Option(names = "--warmup-ratio", defaultValue = "0.06")
    float warmupRatio;

    @Option(names = "--schedule", defaultValue = "linear", description = "linear, cosine or constant")
    String schedule;

    @Option(names = "--grad-accum", defaultValue = "1")
    int gradAccum;

    @Option(names = "--max-grad-norm", defaultValue = "1.0")
    float maxGradNorm;

    @Option(names = "--seed", defaultValue = "42")
    long seed;

    @Option(names = "--set", description = "Override a method config key (HF name), e.g. --set r=16 --set target_modules=[\"query\",\"key\"]")
    Map<String, String> overrides = new LinkedHashMap<>();

    /** {@code --lr}, or the method's default learning rate. */
    float peakLr(String method) {
        return lr != null ? lr : MethodConfigs.defaultLearningRate(method);
    }

    /** The trainer's options for {@code method}, logging every 10 steps. */
    TrainingOptions options(String method) {
        return new TrainingOptions(epochs, maxSteps, peakLr(method), weightDecay, warmupRatio, LrSchedule.parse(schedule),
                maxGradNorm, gradAccum, seed, 10);
    }
}
