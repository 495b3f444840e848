package org.peft4j.api.backend;

import java.util.List;
import java.util.function.Supplier;

/**
 * A tensor engine: it makes {@link Tensor}s, runs their math, differentiates through its own
 * autodiff and scopes native memory. Methods and models are written against this interface
 * only, so every PEFT method runs on every backend.
 *
 * <p>Backends are found through {@link BackendProvider}s registered with
 * {@link java.util.ServiceLoader}. A backend is thread-safe; the tensors it makes are not
 * (see {@link Tensor}). Close it to release everything it still holds.
 */
public interface Backend extends AutoCloseable {

    /**
     * System property: how many threads the engine may use inside one operation (PyTorch's and
     * OpenMP's intra-op threads, OpenBLAS's threads). Unset: the engine's own choice (the cores).
     * Read when a backend is created; set it lower when several threads run the model at once
     * (as {@code peft serve --workers} does) so their operations do not fight over the cores.
     */
    String INTRA_OP_THREADS = "peft.intraOpThreads";

    /**
     * The {@link #INTRA_OP_THREADS} setting: empty when unset.
     *
     * @throws org.peft4j.api.PeftException when it is not a whole number in [1, 4096]
     */
    static java.util.OptionalInt intraOpThreads() {
        String value = System.getProperty(INTRA_OP_THREADS);
        if (value == null || value.isBlank()) {
            return java.util.OptionalInt.empty();
        }
        try {
            int threads = Integer.parseInt(value.trim());
            if (threads >= 1 && threads <= 4096) {
                return java.util.OptionalInt.of(threads);
            }
        } catch (NumberFormatException e) {
            // named below
        }
        throw new org.peft4j.api.PeftException("-D" + INTRA_OP_THREADS + " must be a whole number of threads in [1, 4096], got '"
                + value + "'");
    }

    /** The name users select this backend by (for example {@code "djl"}); never null. */
    String name();

    /**
     * The multiple this backend would like sequence lengths padded to when training: a backend that
     * keeps differentiated graphs per input shape (ND4J's SameDiff) reuses them only when batches
     * come in a few lengths. 1 (the default): pad to the longest row only.
     */
    default int lengthBucket() {
        return 1;
    }

    /** A float tensor holding {@code data} in row-major order. */
    Tensor fromFloats(float[] data, long... shape);

    /** An INT64 tensor holding {@code data} in row-major order (token ids, labels). */
    Tensor fromLongs(long[] data, long... shape);

    /** A float tensor of zeros. */
    default Tensor zeros(long... shape) {
        return full(0f, shape);
    }

    /** A float tensor with every element {@code value}. */
    Tensor full(float value, long... shape);

    /**
     * Uniform random floats in {@code [0, 1)} from the backend's generator (seeded by
     * {@link #seed(long)}); used for dropout masks.
     */
    Tensor randomUniform(long... shape);

    /** Seeds the backend's random generator, for reproducible dropout. */
    void seed(long seed);

    /** Concatenates tensors along {@code axis}; they must agree on every other axis. */
    Tensor concat(List<Tensor> tensors, int axis);

    /**
     * Opens a scope: tensors made on this thread until it closes are released when it closes,
     * unless {@linkplain #keep kept}. Scopes nest.
     */
    Scope scope();

    /**
     * Moves {@code tensor} out of any scope so it lives until the backend closes (or until
     * {@link #release}); returns the tensor to keep (possibly {@code tensor} itself).
     */
    Tensor keep(Tensor tensor);

    /** Releases a tensor's memory now; using it afterwards fails. */
    void release(Tensor tensor);

    /**
     * Runs {@code loss} and differentiates it with respect to the values of {@code params}, with
     * the engine's own autodiff. Parameters not listed are constants: they get no gradient.
     * The returned gradients live in the current scope.
     *
     * <p>Values the loss computes on the way may be read inside {@code loss}; once this method
     * returns, only the loss tensor and the gradients are sure to have values (a backend may
     * compute the intermediates only while differentiating; reading one then fails clearly).
     *
     * @param params the parameters to differentiate with respect to; their order is kept
     * @param loss computes a one-element loss from the current parameter values
     */
    Gradients gradients(List<Parameter> params, Supplier<Tensor> loss);

    /** Releases every tensor this backend still holds. */
    @Override
    void close();
}
