package org.peft4j.train;

import java.util.Locale;
import org.peft4j.api.PeftException;

/** Learning-rate schedules: linear warm-up, then constant, linear or cosine decay to zero. */
public enum LrSchedule {
    CONSTANT,
    LINEAR,
    COSINE;

    /**
     * The learning rate at {@code step} (0-based) of {@code total}.
     *
     * @param peak rate reached at the end of warm-up
     * @param warmup number of warm-up steps
     */
    public float at(int step, int total, int warmup, float peak) {
        if (step < warmup) {
            return peak * (step + 1) / warmup;
        }
        if (this == CONSTANT || total <= warmup) {
            return peak;
        }
        double progress = (double) (step - warmup) / Math.max(1, total - warmup);
        return switch (this) {
            case LINEAR -> (float) (peak * Math.max(0.0, 1.0 - progress));
            case COSINE -> (float) (peak * 0.5 * (1.0 + Math.cos(Math.PI * Math.min(1.0, progress))));
            case CONSTANT -> peak;
        };
    }

    /** Parses a name case-insensitively, or fails listing the choices. */
    public static LrSchedule parse(String name) {
        try {
            return valueOf(name.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new PeftException("unknown learning-rate schedule '" + name + "'; choices: linear, cosine, constant");
        }
    }
}
