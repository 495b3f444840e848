package org.peft4j.api.backend;

import java.util.Arrays;
import org.peft4j.api.PeftException;

/**
 * An n-dimensional array owned by a {@link Backend}. Every operation returns a new tensor and
 * never modifies its operands; binary operations broadcast as NumPy does. Operations performed
 * inside {@link Backend#gradients} are differentiated by the backend's own autodiff.
 *
 * <p>A tensor lives until the {@link Scope} that was open when it was made is closed (or until
 * the backend is closed, for tensors made outside any scope or {@linkplain Backend#keep kept}).
 * Reading a released tensor fails.
 *
 * <p>Implementations are thread-compatible: one thread per tensor at a time.
 */
public interface Tensor {

    /** The backend that owns this tensor; never null. */
    Backend backend();

    /** Sizes of each axis; a fresh copy, never null. */
    long[] shape();

    /** Element type; never null. */
    DType dtype();

    /** Number of axes. */
    default int rank() {
        return shape().length;
    }

    /** Size of {@code axis}; negative axes count from the end. */
    default long size(int axis) {
        long[] s = shape();
        return s[axis < 0 ? s.length + axis : axis];
    }

    /** Number of elements. */
    default long numel() {
        return numel(shape());
    }

    /**
     * The element count of {@code shape}, checked once for every place that sizes a tensor: a
     * negative size or a count past {@code Long.MAX_VALUE} is a PeftException naming the shape.
     */
    static long numel(long... shape) {
        long n = 1;
        for (long s : shape) {
            if (s < 0 || (s > 0 && n > Long.MAX_VALUE / s)) {
                throw new PeftException((s < 0 ? "negative size" : "more elements than a long counts") + " in shape "
                        + Arrays.toString(shape));
            }
            n *= s;
        }
        return n;
    }

    /** {@link #numel(long...)} of a shape that must fit one Java array ({@code what} names it in errors). */
    static int arrayLength(String what, long... shape) {
        long n = numel(shape);
        if (n > Integer.MAX_VALUE - 8) {
            throw new PeftException(what + " of shape " + Arrays.toString(shape) + " has " + n
                    + " elements, more than one Java array holds (" + (Integer.MAX_VALUE - 8) + ")");
        }
        return (int) n;
    }

    /** Elements in row-major order, converted to float. */
    float[] toFloatArray();

    /** Elements in row-major order, converted to long. */
    long[] toLongArray();

    /** The single element of a one-element tensor. */
    default float item() {
        float[] v = toFloatArray();
        if (v.length != 1) {
            throw new PeftException("item() needs one element, tensor has shape " + Arrays.toString(shape()));
        }
        return v[0];
    }

    // ---- element-wise arithmetic (broadcasting) ----

    Tensor add(Tensor other);

    Tensor sub(Tensor other);

    Tensor mul(Tensor other);

    Tensor div(Tensor other);

    Tensor add(float scalar);

    Tensor mul(float scalar);

    default Tensor sub(float scalar) {
        return add(-scalar);
    }

    default Tensor div(float scalar) {
        return mul(1f / scalar);
    }

    default Tensor neg() {
        return mul(-1f);
    }

    /** Raises every element to {@code exponent}. */
    Tensor pow(float exponent);

    default Tensor square() {
        return mul(this);
    }

    Tensor sqrt();

    Tensor exp();

    Tensor log();

    Tensor abs();

    Tensor tanh();

    Tensor sigmoid();

    Tensor relu();

    Tensor erf();

    /** Exact GELU, {@code x * Phi(x)} with the Gaussian CDF written through erf (as BERT uses). */
    default Tensor gelu() {
        return mul(0.5f).mul(div((float) Math.sqrt(2.0)).erf().add(1f));
    }

    /**
     * GELU's tanh approximation, {@code 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))}: GPT-2's
     * {@code gelu_new}, PyTorch's {@code gelu(approximate="tanh")}.
     */
    default Tensor geluTanh() {
        Tensor inner = add(mul(this).mul(this).mul(0.044715f)).mul((float) Math.sqrt(2.0 / Math.PI));
        return mul(0.5f).mul(inner.tanh().add(1f));
    }

    /** SiLU / swish, {@code x * sigmoid(x)}. */
    default Tensor silu() {
        return mul(sigmoid());
    }

    // ---- reductions ----

    /** Sum over {@code axes} (all axes when empty). */
    Tensor sum(boolean keepDims, int... axes);

    /** Mean over {@code axes} (all axes when empty). */
    Tensor mean(boolean keepDims, int... axes);

    /** Maximum over one axis. */
    Tensor max(int axis, boolean keepDims);

    // ---- shape ----

    /** Same elements, new shape; one size may be -1. */
    Tensor reshape(long... newShape);

    /** Reorders axes; {@code axes} is a permutation. */
    Tensor permute(int... axes);

    /** Swaps the last two axes. */
    default Tensor transposeLast2() {
        int r = rank();
        int[] axes = new int[r];
        for (int i = 0; i < r; i++) {
            axes[i] = i;
        }
        axes[r - 2] = r - 1;
        axes[r - 1] = r - 2;
        return permute(axes);
    }

    /** Elements {@code [start, end)} along {@code axis}. */
    Tensor slice(int axis, long start, long end);

    /** Converts the element type. */
    Tensor toType(DType type);

    // ---- linear algebra and nn primitives ----

    /** Matrix product over the last two axes, broadcasting leading axes. */
    Tensor matmul(Tensor other);

    /**
     * {@code this @ weight^T + bias}, the PyTorch {@code Linear} layout: {@code weight} is
     * (out, in), {@code bias} is (out) or null.
     */
    default Tensor linear(Tensor weight, Tensor bias) {
        Tensor y = matmul(weight.transposeLast2());
        return bias == null ? y : y.add(bias);
    }

    /** Softmax along {@code axis}. */
    default Tensor softmax(int axis) {
        Tensor shifted = sub(max(axis, true));
        Tensor e = shifted.exp();
        return e.div(e.sum(true, axis));
    }

    /** Log-softmax along {@code axis}. */
    default Tensor logSoftmax(int axis) {
        Tensor shifted = sub(max(axis, true));
        return shifted.sub(shifted.exp().sum(true, axis).log());
    }

    /** Layer normalisation over the last axis with a learned gain and bias. */
    default Tensor layerNorm(Tensor gamma, Tensor beta, float eps) {
        Tensor mu = mean(true, -1);
        Tensor centered = sub(mu);
        Tensor var = centered.square().mean(true, -1);
        Tensor normed = centered.div(var.add(eps).sqrt());
        return normed.mul(gamma).add(beta);
    }

    /**
     * Rows of this 2-D table picked by integer {@code indices}: the result has shape
     * {@code indices.shape() + [columns]} (an embedding lookup).
     */
    Tensor gather(Tensor indices);

    /** 1 where an element is greater than {@code threshold}, else 0 (FLOAT32, a constant to autodiff). */
    Tensor greaterThan(float threshold);

    /** Same values, cut off from autodiff (a constant to the gradient computation). */
    Tensor detach();
}
