package org.peft4j.backend.djl;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.function.Supplier;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;

/**
 * {@link Backend} on DJL with the PyTorch engine. Every result is attached to the innermost open
 * {@link Scope} of the calling thread (an {@link NDManager}), whatever manager its operands
 * belong to, so closing a scope frees all intermediates; kept tensors live in the root manager.
 * Gradients come from PyTorch autograd through DJL's {@link GradientCollector}.
 */
public final class DjlBackend implements Backend {
    /** DJL's engine name for PyTorch; the tokenizers jar registers another engine, so ask by name. */
    static final String ENGINE = "PyTorch";

    private final Engine engine;
    private final NDManager root;
    private final ThreadLocal<Deque<NDManager>> scopes = ThreadLocal.withInitial(ArrayDeque::new);

    DjlBackend() {
        if (System.getProperty("ai.djl.offline") == null) {
            // natives ship in Maven jars; never let DJL reach for the network
            System.setProperty("ai.djl.offline", "true");
        }
        this.engine = Engine.getEngine(ENGINE);
        // PyTorch's intra-op pool is one per process: set after the engine loads, so it holds whoever loaded it first
        Backend.intraOpThreads().ifPresent(ai.djl.pytorch.jni.JniUtils::setNumThreads);
        this.root = engine.newBaseManager();
    }

    @Override
    public String name() {
        return DjlBackendProvider.NAME;
    }

    /** The manager new results go to on this thread. */
    NDManager manager() {
        NDManager m = scopes.get().peek();
        return m == null ? root : m;
    }

    /** Wraps a fresh NDArray, attaching it to the current scope. */
    DjlTensor wrap(NDArray array) {
        array.attach(manager());
        return new DjlTensor(this, array);
    }

    NDArray unwrap(Tensor t) {
        if (t instanceof DjlTensor d && d.backend() == this) {
            return d.array();
        }
        throw new PeftException("tensor from backend '" + t.backend().name() + "' used with backend 'djl' "
                + (t instanceof DjlTensor ? "(another instance)" : "") + "; move it with fromFloats first");
    }

    @Override
    public Tensor fromFloats(float[] data, long... shape) {
        checkSize(data.length, 4, shape);
        return owned(manager().create(data, new Shape(shape)));
    }

    /**
     * DJL builds arrays from Java data with {@code from_blob} over a direct buffer that only the
     * first Java wrapper keeps alive; views made later (slices, reshapes) do not. Copy into
     * memory that PyTorch owns, so no tensor ever points into a buffer the GC may free.
     */
    private Tensor owned(NDArray borrowed) {
        try (borrowed) {
            return wrap(borrowed.duplicate());
        }
    }

    /**
     * A 0-d float array owned by PyTorch, in the current scope. DJL's {@code NDArray.mul(Number)}
     * and friends wrap the scalar with {@code from_blob} and close it at once, while autograd keeps
     * it for the backward pass: after a GC the gradient reads freed memory (NaN gradients now and
     * then). Our scalar operands live until the scope closes.
     */
    NDArray scalar(float value) {
        return ((DjlTensor) owned(manager().create(value))).array();
    }

    @Override
    public Tensor fromLongs(long[] data, long... shape) {
        checkSize(data.length, 8, shape);
        return owned(manager().create(data, new Shape(shape)));
    }

    /** DJL copies Java data through one direct buffer, whose size in bytes must fit an int. */
    private static void checkSize(int length, int bytesPerValue, long[] shape) {
        long n = Tensor.numel(shape);
        if (n != length) {
            throw new PeftException("shape " + java.util.Arrays.toString(shape) + " holds " + n + " elements but "
                    + length + " values were given");
        }
        if ((long) length * bytesPerValue > Integer.MAX_VALUE) {
            throw new PeftException("a tensor of shape " + java.util.Arrays.toString(shape) + " is "
                    + (long) length * bytesPerValue + " bytes; DJL copies host data in blocks under 2 GiB");
        }
    }

    @Override
    public Tensor full(float value, long... shape) {
        Tensor.numel(shape);
        return wrap(manager().full(new Shape(shape), value));
    }

    @Override
    public Tensor randomUniform(long... shape) {
        Tensor.numel(shape);
        return wrap(manager().randomUniform(0f, 1f, new Shape(shape)));
    }

    @Override
    public void seed(long seed) {
        engine.setRandomSeed((int) seed);
    }

    @Override
    public Tensor concat(List<Tensor> tensors, int axis) {
        NDList list = new NDList();
        for (Tensor t : tensors) {
            list.add(unwrap(t));
        }
        return wrap(NDArrays.concat(list, axis));
    }

    @Override
    public Scope scope() {
        Deque<NDManager> stack = scopes.get();
        NDManager m = root.newSubManager();
        stack.push(m);
        int depth = stack.size();
        return new Scope() {
            private boolean closed;

            @Override
            public void close() {
                if (closed) {
                    return;
                }
                closed = true;
                if (stack.peek() != m) {
                    throw new PeftException("closing scope " + depth + " of " + stack.size()
                            + " open scopes (counted from the outermost); scopes must be closed in reverse order of opening");
                }
                stack.pop();
                m.close();
            }
        };
    }

    @Override
    public Tensor keep(Tensor tensor) {
        unwrap(tensor).attach(root);
        return tensor;
    }

    @Override
    public void release(Tensor tensor) {
        unwrap(tensor).close();
    }

    /**
     * Records {@code loss} with autograd on and differentiates it. DJL's {@code GradientCollector}
     * allows one collector per JVM, which would make backward passes on different threads (Spark
     * tasks in one executor, serving threads) fail; PyTorch's grad mode is per thread, so this
     * switches it on for the calling thread only and runs PyTorch's backward directly.
     */
    @Override
    public Gradients gradients(List<Parameter> params, Supplier<Tensor> loss) {
        List<NDArray> leaves = new ArrayList<>(params.size());
        for (Parameter p : params) {
            NDArray a = unwrap(p.value());
            a.setRequiresGradient(true);
            leaves.add(a);
        }
        try {
            float value;
            boolean gradMode = JniUtils.isGradMode();
            JniUtils.setGradMode(true);
            try {
                NDArray l = unwrap(loss.get());
                if (l.size() != 1) {
                    throw new PeftException("loss must have one element, got shape " + l.getShape());
                }
                value = l.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).getFloat();
                try (NDArray seed = l.onesLike()) {
                    JniUtils.backward((PtNDArray) l, (PtNDArray) seed, false, false);
                }
            } finally {
                JniUtils.setGradMode(gradMode);
            }
            List<Tensor> grads = new ArrayList<>(leaves.size());
            for (NDArray a : leaves) {
                try (NDArray g = a.getGradient()) {
                    grads.add(wrap(g.duplicate()));
                }
                // PyTorch accumulates into .grad across backward passes; zero_() (not g - g) also clears NaN
                JniUtils.zeroGrad((PtNDArray) a);
            }
            return new Gradients(value, grads);
        } finally {
            for (NDArray a : leaves) {
                a.setRequiresGradient(false);
            }
        }
    }

    @Override
    public void close() {
        root.close();
    }
}
