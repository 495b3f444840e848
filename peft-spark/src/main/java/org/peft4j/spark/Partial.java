package org.peft4j.spark;

import java.io.Serializable;

/**
 * Gradients of the summed loss over some rows (not the mean, so partials add up), with the row
 * count and the summed loss: what a task sends back and what {@code treeAggregate} adds.
 */
record Partial(float[][] grads, long rows, double lossSum) implements Serializable {

    static final Partial EMPTY = new Partial(null, 0, 0);

    static Partial add(Partial a, Partial b) {
        if (a.grads == null) {
            return b;
        }
        if (b.grads == null) {
            return a;
        }
        float[][] sum = new float[a.grads.length][];
        for (int i = 0; i < sum.length; i++) {
            sum[i] = a.grads[i].clone();
            float[] other = b.grads[i];
            for (int j = 0; j < other.length; j++) {
                sum[i][j] += other[j];
            }
        }
        return new Partial(sum, a.rows + b.rows, a.lossSum + b.lossSum);
    }
}
