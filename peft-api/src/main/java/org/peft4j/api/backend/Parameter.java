package org.peft4j.api.backend;

import java.util.Objects;

/**
 * A learnable tensor of a model. The value is replaced (not mutated) by optimizers, so a tensor
 * read from {@link #value()} stays valid until the next {@link #set}. Frozen parameters
 * ({@code trainable == false}) are constants to the autodiff and get no optimizer state.
 */
public final class Parameter {
    private Tensor value;
    private boolean trainable;

    /** A trainable parameter holding {@code value}, which it keeps out of any scope. */
    public Parameter(Tensor value) {
        this.value = value.backend().keep(Objects.requireNonNull(value, "value"));
        this.trainable = true;
    }

    /** The current value; never null. */
    public Tensor value() {
        return value;
    }

    /** Replaces the value (shape must match) and releases the previous one. */
    public void set(Tensor newValue) {
        Objects.requireNonNull(newValue, "newValue");
        long[] expected = value.shape();
        if (!java.util.Arrays.equals(expected, newValue.shape())) {
            throw new org.peft4j.api.PeftException("parameter shape is " + java.util.Arrays.toString(expected)
                    + ", new value has shape " + java.util.Arrays.toString(newValue.shape()));
        }
        Tensor old = value;
        value = newValue.backend().keep(newValue);
        if (old != value) {
            old.backend().release(old);
        }
    }

    public boolean trainable() {
        return trainable;
    }

    public void setTrainable(boolean trainable) {
        this.trainable = trainable;
    }

    /** Number of elements. */
    public long numel() {
        return value.numel();
    }

    @Override
    public String toString() {
        return "Parameter" + java.util.Arrays.toString(value.shape()) + (trainable ? "" : " (frozen)");
    }
}
