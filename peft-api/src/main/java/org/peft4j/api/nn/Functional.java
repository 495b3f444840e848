package org.peft4j.api.nn;

import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Tensor;

/** Backend-neutral building blocks composed from {@link Tensor} operations. */
public final class Functional {
    private Functional() {
    }

    /**
     * Inverted dropout: zeroes each element with probability {@code p} and scales the rest by
     * {@code 1/(1-p)}; the identity when not training or {@code p == 0}.
     */
    public static Tensor dropout(Tensor x, float p, boolean training) {
        if (!(p >= 0f && p < 1f)) {
            throw new PeftException("dropout probability must be in [0, 1), got " + p);
        }
        if (!training || p == 0f) {
            return x;
        }
        // the scale goes into the mask (0 or 1/(1-p), exactly) before it meets x: one product on the
        // autodiff tape instead of two, and the same values as scaling after the mask
        Tensor keep = x.backend().randomUniform(x.shape()).greaterThan(p).mul(1f / (1f - p));
        return x.mul(keep);
    }

    /**
     * Mean cross-entropy of {@code logits} (batch, classes) against integer {@code labels}.
     */
    public static Tensor crossEntropy(Tensor logits, long[] labels) {
        long batch = logits.size(0);
        long classes = logits.size(-1);
        if (logits.rank() != 2 || labels.length != batch) {
            throw new PeftException("crossEntropy needs logits (batch, classes) and one label per row; got logits "
                    + java.util.Arrays.toString(logits.shape()) + " and " + labels.length + " labels");
        }
        float[] oneHot = new float[(int) (batch * classes)];
        for (int i = 0; i < batch; i++) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw new PeftException("label " + labels[i] + " at row " + i + " is outside [0, " + classes + ")");
            }
            oneHot[(int) (i * classes + labels[i])] = 1f;
        }
        Tensor target = logits.backend().fromFloats(oneHot, batch, classes);
        return logits.logSoftmax(-1).mul(target).sum(false).mul(-1f / batch);
    }

    /** Index of the largest value in each row of a (batch, classes) tensor. */
    public static int[] argmaxRows(Tensor scores) {
        float[] v = scores.toFloatArray();
        int classes = (int) scores.size(-1);
        int[] out = new int[v.length / classes];
        for (int r = 0; r < out.length; r++) {
            int best = 0;
            for (int c = 1; c < classes; c++) {
                if (v[r * classes + c] > v[r * classes + best]) {
                    best = c;
                }
            }
            out[r] = best;
        }
        return out;
    }
}
