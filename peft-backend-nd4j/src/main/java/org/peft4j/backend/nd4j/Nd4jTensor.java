package org.peft4j.backend.nd4j;

import java.util.Arrays;
import java.util.function.Function;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.VariableType;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.CustomOp;
import org.nd4j.linalg.api.ops.impl.shape.Gather;
import org.nd4j.linalg.api.ops.impl.shape.Reshape;
import org.nd4j.linalg.api.ops.impl.shape.Tile;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.api.ops.impl.transforms.custom.XwPlusB;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.AddOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.DivOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.SubOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.DType;
import org.peft4j.api.backend.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Tensor} of the ND4J backend, wrapping a C-ordered {@link INDArray} that no other tensor
 * shares. Every operation computes a fresh array (ND4J's in-place variants are never applied to
 * operands) and, while {@link Nd4jBackend#gradients} runs on this thread, is also recorded into
 * the SameDiff graph being differentiated.
 *
 * <p>INT64 tensors are constants to autodiff; arithmetic mixing them with FLOAT32 promotes them to
 * FLOAT32, as do floating-point functions applied to them.
 */
final class Nd4jTensor implements Tensor {
    private static final Logger LOG = LoggerFactory.getLogger(Nd4jTensor.class);

    private final Nd4jBackend backend;
    private final long[] shape;
    private final DType dtype;
    private volatile INDArray array;
    /** The array whose buffer this tensor frees: {@link #array} or the fresh array it views. */
    private INDArray base;
    /**
     * The tensor whose buffer {@link #array} shares (a reshape or permutation of it), pinned while
     * this tensor lives; null when this tensor frees its own {@link #base}.
     */
    private Nd4jTensor source;
    /** A buffer released while pinned by a tape, freed once unpinned. */
    private INDArray pendingFree;
    /** A source released while this tensor was pinned by a tape, unpinned once this one is. */
    private Nd4jTensor pendingSource;
    private int pins;
    /** The lazy tape this tensor's value is recorded on and not yet computed; null once it has a value. */
    private Recorder tape;
    /** Recorded on a lazy tape that closed before anything read the value: it was never computed. */
    private boolean orphaned;
    /** The scope or backend holding this tensor; maintained by {@link TensorOwner}. */
    volatile TensorOwner owner;

    Nd4jTensor(Nd4jBackend backend, INDArray array, INDArray base) {
        this.backend = backend;
        this.array = array;
        this.base = base;
        this.shape = array.shape().clone();
        this.dtype = dtypeOf(array.dataType());
    }

    /** A FLOAT32 tensor of {@code shape} whose value {@code tape} has recorded but not computed. */
    Nd4jTensor(Nd4jBackend backend, long[] shape, Recorder tape) {
        this.backend = backend;
        this.shape = shape.clone();
        this.dtype = DType.FLOAT32;
        this.tape = tape;
    }

    static DType dtypeOf(DataType t) {
        return switch (t) {
            case FLOAT -> DType.FLOAT32;
            case LONG -> DType.INT64;
            default -> throw new PeftException("unsupported ND4J data type " + t);
        };
    }

    static DataType dataTypeOf(DType t) {
        return switch (t) {
            case FLOAT32 -> DataType.FLOAT;
            case INT64 -> DataType.LONG;
        };
    }

    // ------------------------------------------------------------------ memory

    /**
     * The live array, computed first if a lazy tape has only recorded it; fails if this tensor was
     * released, or was recorded inside a {@link Nd4jBackend#gradients} call that has returned.
     */
    INDArray array() {
        INDArray a = array;
        if (a == null) {
            Recorder r;
            synchronized (this) {
                r = tape;
            }
            if (r != null) {
                return materialize(r);
            }
            checkLive();
            throw new IllegalStateException("tensor without a value");
        }
        return a;
    }

    /** Fails if this tensor was released or its value can no longer be computed; never computes it. */
    void checkLive() {
        synchronized (this) {
            if (array != null || tape != null) {
                return;
            }
            if (orphaned) {
                throw new PeftException("tensor " + Arrays.toString(shape) + " was computed inside Backend.gradients()"
                        + " and read only after it returned: the nd4j backend computes such intermediates only"
                        + " while differentiating; read the value inside the loss supplier, or compute it again");
            }
        }
        throw new PeftException("tensor " + Arrays.toString(shape) + " " + dtype + " was released (its scope"
                + " closed or release() was called); keep() tensors that must outlive their scope");
    }

    /** Computes a recorded value now (SameDiff runs the graph recorded so far up to this tensor). */
    private INDArray materialize(Recorder r) {
        INDArray value = r.materialize(this);
        synchronized (this) {
            if (tape != r) {
                closeArray(value); // released (or orphaned) meanwhile
                checkLive();
                return array;
            }
            array = value;
            base = value;
            tape = null;
            return value;
        }
    }

    /** Whether the value is recorded on a lazy tape and not computed yet. */
    synchronized boolean isDeferred() {
        return array == null && tape != null;
    }

    /** Gives a deferred tensor its value (a fresh array it now owns), e.g. the loss once SameDiff computed it. */
    void provide(INDArray value) {
        synchronized (this) {
            if (array == null && tape != null) {
                array = value;
                base = value;
                tape = null;
                return;
            }
        }
        closeArray(value);
    }

    /** Called as the lazy tape closes: a value not computed by now never will be. */
    synchronized void orphan() {
        if (array == null && tape != null) {
            tape = null;
            orphaned = true;
        }
    }

    boolean isReleased() {
        synchronized (this) {
            return array == null && tape == null && !orphaned;
        }
    }

    /**
     * A tensor whose value is {@code view}, a reshape or permutation sharing {@code source}'s buffer:
     * instead of a copy, it pins {@code source} (whose buffer then outlives its own release) until
     * freed. Safe because no operation writes into a tensor's array after making it.
     */
    static Nd4jTensor sharing(Nd4jBackend backend, INDArray view, Nd4jTensor source) {
        Nd4jTensor t = new Nd4jTensor(backend, view, null);
        source.pin();
        t.source = source;
        return t;
    }

    /** Frees the native buffer (later, if a tape still uses it); reads fail from now on. */
    void free() {
        INDArray toFree;
        Nd4jTensor src;
        synchronized (this) {
            if (array == null) {
                tape = null;
                orphaned = false;
                return;
            }
            toFree = base;
            src = source;
            array = null;
            base = null;
            source = null;
            if (pins > 0) {
                pendingFree = toFree;
                pendingSource = src;
                return;
            }
        }
        dispose(toFree, src);
    }

    /** Keeps the buffer alive (even if released) until {@link #unpin}: a SameDiff constant shares it. */
    synchronized void pin() {
        pins++;
    }

    void unpin() {
        INDArray toFree = null;
        Nd4jTensor src = null;
        synchronized (this) {
            pins--;
            if (pins == 0) {
                toFree = pendingFree;
                src = pendingSource;
                pendingFree = null;
                pendingSource = null;
            }
        }
        dispose(toFree, src);
    }

    /** Frees a released buffer and lets go of the tensor it shared (either may be null). */
    private static void dispose(INDArray buffer, Nd4jTensor sharedSource) {
        closeArray(buffer);
        if (sharedSource != null) {
            sharedSource.unpin();
        }
    }

    static void closeArray(INDArray a) {
        if (a != null && !a.wasClosed()) {
            if (a.closeable()) {
                a.close();
            } else {
                LOG.trace("array not closeable, left to the garbage collector: {}", a.shapeInfoToString());
            }
        }
    }

    // ------------------------------------------------------------------ metadata and data

    @Override
    public Backend backend() {
        return backend;
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    @Override
    public DType dtype() {
        return dtype;
    }

    @Override
    public int rank() {
        return shape.length;
    }

    @Override
    public long numel() {
        return numel(shape);
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        return n;
    }

    @Override
    public float[] toFloatArray() {
        INDArray a = array();
        if (a.length() == 0) {
            return new float[0];
        }
        if (isPlain(a)) {
            return a.data().asFloat();
        }
        INDArray c = a.dup('c');
        try {
            return c.data().asFloat();
        } finally {
            closeArray(c);
        }
    }

    @Override
    public long[] toLongArray() {
        INDArray a = array();
        if (a.length() == 0) {
            return new long[0];
        }
        if (isPlain(a)) {
            return a.data().asLong();
        }
        INDArray c = a.dup('c');
        try {
            return c.data().asLong();
        } finally {
            closeArray(c);
        }
    }

    /** Whether the array's buffer holds exactly its elements in row-major order. */
    static boolean isPlain(INDArray a) {
        if (a.ordering() != 'c' || a.offset() != 0 || a.data().length() != a.length()) {
            return false;
        }
        long[] s = a.shape();
        long[] st = a.stride();
        long expected = 1;
        for (int i = s.length - 1; i >= 0; i--) {
            if (s[i] != 1 && st[i] != expected) {
                return false;
            }
            expected *= s[i];
        }
        return true;
    }

    @Override
    public float item() {
        if (numel() != 1) {
            throw new PeftException("item() needs one element, tensor has shape " + Arrays.toString(shape));
        }
        return toFloatArray()[0];
    }

    @Override
    public String toString() {
        return "Nd4jTensor" + Arrays.toString(shape) + " " + dtype + (array != null ? "" : isDeferred() ? " (recorded)"
                : " (released)");
    }

    // ------------------------------------------------------------------ element-wise arithmetic

    private enum Binary {
        ADD, SUB, MUL, DIV
    }

    @Override
    public Tensor add(Tensor other) {
        return binary(other, Binary.ADD);
    }

    @Override
    public Tensor sub(Tensor other) {
        return binary(other, Binary.SUB);
    }

    @Override
    public Tensor mul(Tensor other) {
        return binary(other, Binary.MUL);
    }

    @Override
    public Tensor div(Tensor other) {
        return binary(other, Binary.DIV);
    }

    private Tensor binary(Tensor other, Binary op) {
        Nd4jTensor o = backend.unwrap(other);
        boolean mixed = dtype != o.dtype;
        Nd4jTensor a = mixed ? asFloat() : this;
        Nd4jTensor b = mixed ? o.asFloat() : o;
        long[] outShape = broadcastShape(a.shape, b.shape, op.name().toLowerCase());
        boolean sameShapes = Arrays.equals(a.shape, outShape) && Arrays.equals(b.shape, outShape);
        java.util.function.BinaryOperator<SDVariable> sdOp = (x, y) -> {
            SameDiff sd = x.getSameDiff();
            SDVariable kernel = null;
            if (sameShapes && op == Binary.ADD) {
                kernel = GraphKernels.sum(x, y);
            } else if (sameShapes && op == Binary.MUL && (isFed(x) || isFed(y))) {
                kernel = isFed(y) ? GraphKernels.productWithConstant(x, y) : GraphKernels.productWithConstant(y, x);
            }
            return kernel != null ? kernel : switch (op) {
                case ADD -> sd.math().add(x, y);
                case SUB -> sd.math().sub(x, y);
                case MUL -> sd.math().mul(x, y);
                case DIV -> sd.math().div(x, y);
            };
        };
        Function<SDVariable[], SDVariable> graph = sameShapes
                ? v -> backend.recorder().elementwise(v[0], v[1], outShape, sdOp)
                : v -> sdOp.apply(v[0], v[1]);
        return backend.compute(outShape, graph, () -> {
            INDArray out = Nd4j.createUninitialized(a.array().dataType(), outShape, 'c');
            if (out.length() > 0) {
                INDArray[] in = {a.array(), b.array()};
                INDArray[] res = {out};
                Nd4j.exec(switch (op) {
                    case ADD -> new AddOp(in, res);
                    case SUB -> new SubOp(in, res);
                    case MUL -> new MulOp(in, res);
                    case DIV -> new DivOp(in, res);
                });
            }
            return out;
        }, a, b);
    }

    /** The NumPy broadcast of two shapes; a clear error naming both when they do not broadcast. */
    static long[] broadcastShape(long[] a, long[] b, String op) {
        int r = Math.max(a.length, b.length);
        long[] out = new long[r];
        for (int i = 0; i < r; i++) {
            int ia = i - (r - a.length);
            int ib = i - (r - b.length);
            long da = ia < 0 ? 1 : a[ia];
            long db = ib < 0 ? 1 : b[ib];
            if (da == db || db == 1) {
                out[i] = da;
            } else if (da == 1) {
                out[i] = db;
            } else {
                throw new PeftException(op + ": shapes " + Arrays.toString(a) + " and " + Arrays.toString(b)
                        + " do not broadcast (axis " + i + " of the result: " + da + " vs " + db + ")");
            }
        }
        return out;
    }

    @Override
    public Tensor add(float scalar) {
        return scalarOp(scalar, true);
    }

    @Override
    public Tensor mul(float scalar) {
        return scalarOp(scalar, false);
    }

    private Tensor scalarOp(float s, boolean add) {
        if (dtype == DType.INT64) {
            if (s == Math.rint(s) && !Float.isInfinite(s)) {
                Long l = (long) s;
                return backend.constant(add ? array().add(l) : array().mul(l), this);
            }
            return asFloat().scalarOp(s, add);
        }
        Function<SDVariable[], SDVariable> graph =
                v -> backend.recorder().elementwise(v[0], shape, x -> add ? x.add((double) s) : x.mul((double) s));
        return backend.compute(shape, graph, () -> add ? array().add(s) : array().mul(s), this);
    }

    @Override
    public Tensor pow(float exponent) {
        Nd4jTensor x = asFloat();
        Function<SDVariable[], SDVariable> graph = v -> v[0].getSameDiff().math().pow(v[0], (double) exponent);
        return backend.compute(shape, graph, () -> Transforms.pow(x.array(), exponent, true), x);
    }

    private enum Unary {
        SQRT, EXP, LOG, ABS, TANH, SIGMOID, RELU, ERF
    }

    @Override
    public Tensor sqrt() {
        return unary(Unary.SQRT);
    }

    @Override
    public Tensor exp() {
        return unary(Unary.EXP);
    }

    @Override
    public Tensor log() {
        return unary(Unary.LOG);
    }

    @Override
    public Tensor abs() {
        return unary(Unary.ABS);
    }

    @Override
    public Tensor tanh() {
        return unary(Unary.TANH);
    }

    @Override
    public Tensor sigmoid() {
        return unary(Unary.SIGMOID);
    }

    @Override
    public Tensor relu() {
        return unary(Unary.RELU);
    }

    @Override
    public Tensor erf() {
        return unary(Unary.ERF);
    }

    /**
     * Exact GELU, {@code x * 0.5 * (1 + erf(x / sqrt 2))}: eager values in one pass of
     * {@link ErfKernel} (libnd4j's scalar erf was a sixth of a forward pass); recorded as one GELU
     * op that {@link GraphKernels} computes with the same kernel.
     */
    @Override
    public Tensor gelu() {
        Nd4jTensor x = asFloat();
        Function<SDVariable[], SDVariable> graph = v -> backend.recorder().elementwise(v[0], shape, GraphKernels::gelu);
        return backend.compute(shape, graph, () -> ErfKernel.gelu(x.array()), x);
    }

    private Tensor unary(Unary op) {
        Nd4jTensor x = asFloat();
        Function<SDVariable[], SDVariable> graph = v -> backend.recorder().elementwise(v[0], shape, u -> {
            SameDiff sd = u.getSameDiff();
            return switch (op) {
                case SQRT -> sd.math().sqrt(u);
                case EXP -> sd.math().exp(u);
                case LOG -> sd.math().log(u);
                case ABS -> sd.math().abs(u);
                case TANH -> sd.math().tanh(u);
                case SIGMOID -> sd.nn().sigmoid(u);
                case RELU -> sd.nn().relu(u, 0.0);
                case ERF -> sd.math().erf(u);
            };
        });
        return backend.compute(shape, graph, () -> {
            INDArray a = x.array();
            if (a.length() == 0) {
                return Nd4j.create(DataType.FLOAT, shape);
            }
            // Transforms.* with copy=true and ops given an explicit output never touch the input;
            // the Nd4j.math / in-place variants would overwrite it.
            return switch (op) {
                case SQRT -> Transforms.sqrt(a, true);
                case EXP -> Transforms.exp(a, true);
                case LOG -> Transforms.log(a, true);
                case ABS -> Transforms.abs(a, true);
                case TANH -> Transforms.tanh(a, true);
                case SIGMOID -> Transforms.sigmoid(a, true);
                case RELU -> Transforms.relu(a, true);
                case ERF -> ErfKernel.erf(a);
            };
        }, x);
    }

    /** This tensor, or a FLOAT32 copy of it when it is INT64. */
    private Nd4jTensor asFloat() {
        return dtype == DType.FLOAT32 ? this : (Nd4jTensor) toType(DType.FLOAT32);
    }

    // ------------------------------------------------------------------ reductions

    @Override
    public Tensor sum(boolean keepDims, int... axes) {
        return reduce(axes, keepDims, false);
    }

    @Override
    public Tensor mean(boolean keepDims, int... axes) {
        return reduce(axes, keepDims, true);
    }

    private Tensor reduce(int[] axes, boolean keepDims, boolean mean) {
        Nd4jTensor x = mean ? asFloat() : this;
        int[] ax = normalizeAxes(axes, shape.length, mean ? "mean" : "sum");
        long[] expected = reducedShape(shape, ax, keepDims);
        Function<SDVariable[], SDVariable> graph =
                v -> mean ? v[0].getSameDiff().mean(v[0], keepDims, ax) : v[0].getSameDiff().sum(v[0], keepDims, ax);
        return backend.compute(expected, graph,
                () -> withShape(mean ? x.array().mean(keepDims, ax) : x.array().sum(keepDims, ax), expected), x);
    }

    @Override
    public Tensor max(int axis, boolean keepDims) {
        int ax = normalizeAxis(axis, shape.length, "max");
        long[] expected = reducedShape(shape, new int[] {ax}, keepDims);
        Function<SDVariable[], SDVariable> graph = v -> v[0].getSameDiff().max(v[0], keepDims, ax);
        return backend.compute(expected, graph, () -> withShape(array().max(keepDims, ax), expected), this);
    }

    /** {@code a} reshaped to {@code expected} when ND4J chose another (equal-size) shape. */
    private static INDArray withShape(INDArray a, long[] expected) {
        if (Arrays.equals(a.shape(), expected)) {
            return a;
        }
        if (a.length() != numel(expected)) {
            throw new PeftException("ND4J result has shape " + Arrays.toString(a.shape()) + ", expected "
                    + Arrays.toString(expected));
        }
        INDArray r = a.reshape('c', expected).dup('c');
        closeArray(a);
        return r;
    }

    private static long[] reducedShape(long[] shape, int[] axes, boolean keepDims) {
        boolean[] reduced = new boolean[shape.length];
        for (int a : axes) {
            reduced[a] = true;
        }
        long[] out = new long[keepDims ? shape.length : shape.length - axes.length];
        int j = 0;
        for (int i = 0; i < shape.length; i++) {
            if (reduced[i]) {
                if (keepDims) {
                    out[j++] = 1;
                }
            } else {
                out[j++] = shape[i];
            }
        }
        return out;
    }

    /** Axes made non-negative, sorted and unique; all axes when none are given. */
    static int[] normalizeAxes(int[] axes, int rank, String op) {
        if (axes == null || axes.length == 0) {
            int[] all = new int[rank];
            for (int i = 0; i < rank; i++) {
                all[i] = i;
            }
            return all;
        }
        int[] out = new int[axes.length];
        for (int i = 0; i < axes.length; i++) {
            out[i] = normalizeAxis(axes[i], rank, op);
        }
        return Arrays.stream(out).sorted().distinct().toArray();
    }

    /** {@code axis} made non-negative; a clear error when it is out of range. */
    static int normalizeAxis(int axis, int rank, String op) {
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) {
            throw new PeftException(op + ": axis " + axis + " is out of range for a tensor of rank " + rank);
        }
        return a;
    }

    // ------------------------------------------------------------------ shape

    @Override
    public Tensor reshape(long... newShape) {
        long[] s = resolveShape(newShape);
        Function<SDVariable[], SDVariable> graph = v -> backend.recorder().reshape(v[0], s);
        return backend.computeShared(s, graph, () -> array().reshape('c', s), this, false);
    }

    private long[] resolveShape(long[] newShape) {
        if (newShape == null) {
            throw new PeftException("reshape: shape is null");
        }
        long[] s = newShape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) {
                    throw new PeftException("reshape: only one size may be -1, got " + Arrays.toString(newShape));
                }
                infer = i;
            } else if (s[i] < 0) {
                throw new PeftException("reshape: invalid size " + s[i] + " in " + Arrays.toString(newShape));
            } else {
                known *= s[i];
            }
        }
        long n = numel();
        if (infer >= 0) {
            if (known == 0 || n % known != 0) {
                throw new PeftException("reshape: cannot reshape " + Arrays.toString(shape) + " (" + n
                        + " elements) to " + Arrays.toString(newShape));
            }
            s[infer] = n / known;
        } else if (known != n) {
            throw new PeftException("reshape: cannot reshape " + Arrays.toString(shape) + " (" + n
                    + " elements) to " + Arrays.toString(newShape) + " (" + known + " elements)");
        }
        return s;
    }

    @Override
    public Tensor permute(int... axes) {
        int r = shape.length;
        boolean ok = axes != null && axes.length == r;
        boolean[] seen = new boolean[r];
        int[] p = new int[r];
        for (int i = 0; ok && i < r; i++) {
            int a = axes[i] < 0 ? axes[i] + r : axes[i];
            ok = a >= 0 && a < r && !seen[a];
            if (ok) {
                seen[a] = true;
                p[i] = a;
            }
        }
        if (!ok) {
            throw new PeftException("permute: " + Arrays.toString(axes) + " is not a permutation of the axes of a"
                    + " tensor of shape " + Arrays.toString(shape));
        }
        Function<SDVariable[], SDVariable> graph = v -> v[0].getSameDiff().permute(v[0], p);
        long[] outShape = new long[r];
        for (int i = 0; i < r; i++) {
            outShape[i] = shape[p[i]];
        }
        return backend.computeShared(outShape, graph, () -> array().permute(p), this, true);
    }

    @Override
    public Tensor slice(int axis, long start, long end) {
        int ax = normalizeAxis(axis, shape.length, "slice");
        long size = shape[ax];
        if (start < 0 || end > size || start > end) {
            throw new PeftException("slice: [" + start + ", " + end + ") is out of range for axis " + axis
                    + " of size " + size + " (shape " + Arrays.toString(shape) + ")");
        }
        long[] outShape = shape.clone();
        outShape[ax] = end - start;
        if (start == end) {
            return backend.constant(Nd4j.create(dataTypeOf(dtype), outShape));
        }
        int[] begin = new int[shape.length];
        int[] sizes = new int[shape.length];
        for (int i = 0; i < shape.length; i++) {
            sizes[i] = Math.toIntExact(outShape[i]);
        }
        begin[ax] = Math.toIntExact(start);
        Function<SDVariable[], SDVariable> graph = v -> v[0].getSameDiff().slice(v[0], begin, sizes);
        return backend.compute(outShape, graph, () -> {
            INDArrayIndex[] idx = new INDArrayIndex[shape.length];
            for (int i = 0; i < idx.length; i++) {
                idx[i] = i == ax ? NDArrayIndex.interval(start, end) : NDArrayIndex.all();
            }
            return withShape(array().get(idx), outShape);
        }, this);
    }

    @Override
    public Tensor toType(DType type) {
        if (type == dtype) {
            Nd4jTensor recorded = backend.deferred(shape, v -> v[0], this); // the same graph variable
            if (recorded != null) {
                return recorded;
            }
            Nd4jTensor t = backend.constant(array().dup('c'));
            Recorder rec = backend.recorder();
            if (rec != null) {
                rec.alias(t, this);
            }
            return t;
        }
        return backend.constant(array().castTo(dataTypeOf(type)), this);
    }

    // ------------------------------------------------------------------ linear algebra and nn

    @Override
    public Tensor matmul(Tensor other) {
        Nd4jTensor a = asFloat();
        Nd4jTensor b = backend.unwrap(other).asFloat();
        long[] sa = a.shape;
        long[] sb = b.shape;
        int ra = sa.length;
        int rb = sb.length;
        if (ra < 2 || rb < 2) {
            throw new PeftException("matmul needs operands of rank >= 2, got shapes " + Arrays.toString(sa) + " and "
                    + Arrays.toString(sb));
        }
        long m = sa[ra - 2];
        long k = sa[ra - 1];
        long n = sb[rb - 1];
        if (sb[rb - 2] != k) {
            throw new PeftException("matmul: shapes " + Arrays.toString(sa) + " and " + Arrays.toString(sb)
                    + " do not chain (" + k + " columns vs " + sb[rb - 2] + " rows)");
        }
        if (rb == 2) {
            // (..., m, k) @ (k, n): one GEMM over all leading rows
            long rows = a.numel() / Math.max(k, 1);
            long[] outShape = Arrays.copyOf(sa, ra);
            outShape[ra - 1] = n;
            Function<SDVariable[], SDVariable> graph = ra == 2 ? v -> v[0].getSameDiff().mmul(v[0], v[1]) : v -> {
                SameDiff sd = v[0].getSameDiff();
                Recorder rec = backend.recorder();
                SDVariable y = sd.mmul(rec.reshape(v[0], rows, k), v[1]);
                rec.shape(y, rows, n);
                return rec.reshape(y, outShape);
            };
            return backend.computeView(outShape, graph, () -> {
                INDArray x = ra == 2 ? a.array() : a.array().reshape('c', rows, k);
                INDArray y = Nd4j.gemm(x, b.array(), false, false);
                return Nd4jBackend.View.reshaped(y, outShape);
            }, a, b);
        }
        long[] lead = broadcastShape(Arrays.copyOf(sa, ra - 2), Arrays.copyOf(sb, rb - 2), "matmul (batch axes)");
        long[] fullA = concat(lead, m, k);
        long[] fullB = concat(lead, k, n);
        boolean same = Arrays.equals(sa, fullA) && Arrays.equals(sb, fullB);
        Function<SDVariable[], SDVariable> graph = same ? v -> v[0].getSameDiff().mmul(v[0], v[1]) : v -> {
            SameDiff sd = v[0].getSameDiff();
            return sd.mmul(expand(sd, v[0], sa, fullA), expand(sd, v[1], sb, fullB));
        };
        long[] outShape = concat(lead, m, n);
        return backend.compute(outShape, graph, () -> {
            // an output of our own: the one Nd4j.matmul allocates is zeroed first
            INDArray out = Nd4j.createUninitialized(DataType.FLOAT, outShape, 'c');
            if (same) {
                return Nd4j.matmul(a.array(), b.array(), out);
            }
            // broadcast the batch axes by tiling, then a batched matmul
            INDArray x = expand(a.array(), fullA);
            INDArray z = expand(b.array(), fullB);
            try {
                return Nd4j.matmul(x, z, out);
            } finally {
                if (x != a.array()) {
                    closeArray(x);
                }
                if (z != b.array()) {
                    closeArray(z);
                }
            }
        }, a, b);
    }

    /** A graph operand fed from outside (no parameter behind it), so no gradient is wanted for it. */
    private static boolean isFed(SDVariable v) {
        return v.getVariableType() == VariableType.PLACEHOLDER;
    }

    private static long[] concat(long[] lead, long... tail) {
        long[] out = Arrays.copyOf(lead, lead.length + tail.length);
        System.arraycopy(tail, 0, out, lead.length, tail.length);
        return out;
    }

    /** Leading ones to reach the rank of {@code target}. */
    private static long[] padded(long[] s, int rank) {
        long[] p = new long[rank];
        Arrays.fill(p, 1);
        System.arraycopy(s, 0, p, rank - s.length, s.length);
        return p;
    }

    private static int[] tileReps(long[] padded, long[] target) {
        int[] reps = new int[target.length];
        for (int i = 0; i < target.length; i++) {
            reps[i] = Math.toIntExact(padded[i] == target[i] ? 1 : target[i]);
        }
        return reps;
    }

    /** {@code a} broadcast to {@code target} (a fresh array unless it already has that shape). */
    private static INDArray expand(INDArray a, long[] target) {
        if (Arrays.equals(a.shape(), target)) {
            return a;
        }
        long[] p = padded(a.shape(), target.length);
        INDArray r = a.reshape('c', p);
        return Nd4j.exec(new Tile(r, tileReps(p, target)))[0];
    }

    private static SDVariable expand(SameDiff sd, SDVariable v, long[] shape, long[] target) {
        if (Arrays.equals(shape, target)) {
            return v;
        }
        long[] p = padded(shape, target.length);
        return sd.tile(sd.reshape(v, p), tileReps(p, target));
    }

    @Override
    public Tensor linear(Tensor weight, Tensor bias) {
        Nd4jTensor w = backend.unwrap(weight);
        Nd4jTensor b = bias == null ? null : backend.unwrap(bias);
        if (dtype != DType.FLOAT32 || w.dtype != DType.FLOAT32 || w.rank() != 2 || shape.length < 1
                || (b != null && (b.dtype != DType.FLOAT32 || b.rank() != 1))) {
            return Tensor.super.linear(weight, bias);
        }
        long in = shape[shape.length - 1];
        long outF = w.shape[0];
        if (w.shape[1] != in) {
            throw new PeftException("linear: input shape " + Arrays.toString(shape) + " has " + in
                    + " features but weight (out, in) has shape " + Arrays.toString(w.shape));
        }
        if (b != null && b.shape[0] != outF) {
            throw new PeftException("linear: bias shape " + Arrays.toString(b.shape) + " does not match weight shape "
                    + Arrays.toString(w.shape));
        }
        int r = shape.length;
        long rows = numel() / Math.max(in, 1);
        long[] outShape = shape.clone();
        outShape[r - 1] = outF;
        Function<SDVariable[], SDVariable> graph = v -> {
            SameDiff sd = v[0].getSameDiff();
            Recorder rec = backend.recorder();
            SDVariable x2 = r == 2 ? v[0] : rec.reshape(v[0], rows, in);
            SDVariable o;
            if (isFed(v[1]) && (b == null || isFed(v[2]))) {
                // A frozen weight (and bias): xw_plus_b's gradient is three separate ops, so a run
                // that needs only the input's gradient skips the weight's and the bias's. Matmul's
                // gradient is one op computing both products (half the backward's GEMM work wasted).
                SDVariable bv = b != null ? v[2] : backend.recorder().feedOwned(Nd4j.zeros(DataType.FLOAT, outF));
                o = new XwPlusB(sd, x2, sd.permute(v[1], 1, 0), bv).outputVariable();
            } else {
                o = sd.mmul(x2, v[1], false, true, false);
                if (b != null) {
                    o = sd.math().add(o, v[2]);
                }
            }
            rec.shape(o, rows, outF);
            return r == 2 ? o : rec.reshape(o, outShape);
        };
        Nd4jTensor[] inputs = b == null ? new Nd4jTensor[] {this, w} : new Nd4jTensor[] {this, w, b};
        return backend.computeView(outShape, graph, () -> {
            INDArray x = r == 2 ? array() : array().reshape('c', rows, in);
            INDArray y = Nd4j.gemm(x, w.array(), false, true);
            if (b != null) {
                y.addiRowVector(b.array()); // y is our own fresh array
            }
            return Nd4jBackend.View.reshaped(y, outShape);
        }, inputs);
    }

    /**
     * Layer normalisation over the last axis with the default's arithmetic (mean, centred, mean of
     * squares, divide by sqrt(var + eps), gain, bias), computed by {@link FloatKernels#layerNorm}
     * (one fresh array; the composed default allocates four activation-sized intermediates).
     * Recorded as one op of {@link GraphKernels} (the composed expression when those are off).
     */
    @Override
    public Tensor layerNorm(Tensor gamma, Tensor beta, float eps) {
        Nd4jTensor g = backend.unwrap(gamma);
        Nd4jTensor bt = backend.unwrap(beta);
        int r = shape.length;
        if (dtype != DType.FLOAT32 || r < 1 || g.dtype != DType.FLOAT32 || bt.dtype != DType.FLOAT32 || g.rank() != 1
                || bt.rank() != 1 || g.shape[0] != shape[r - 1] || bt.shape[0] != shape[r - 1] || numel() == 0) {
            return Tensor.super.layerNorm(gamma, beta, eps);
        }
        Function<SDVariable[], SDVariable> graph = v -> {
            SameDiff sd = v[0].getSameDiff();
            // on a reshape that keeps the last axis, normalise its source and reshape after (as element-wise ops do)
            Recorder rec = backend.recorder();
            SDVariable source = rec.reshapeSource(v[0]);
            long[] sourceShape = source == null ? null : rec.shapeOf(source);
            boolean hoisted = sourceShape != null && sourceShape[sourceShape.length - 1] == shape[r - 1];
            SDVariable in = hoisted ? source : v[0];
            long[] inShape = hoisted ? sourceShape : shape;
            SDVariable out = GraphKernels.layerNorm(in, v[1], v[2], eps);
            if (out == null) {
                int last = inShape.length - 1;
                SDVariable centered = in.sub(sd.mean(in, true, last));
                // centered * centered, not square(): square's gradient goes through pow (libm powf per
                // element), several times slower than the product's
                SDVariable var = sd.mean(centered.mul(centered), true, last);
                SDVariable gain = v[1];
                if (isFed(gain)) {
                    // A frozen gain is fed at the input's full shape. Multiplying by the [hidden] vector
                    // makes the product's gradient op also reduce the gain's gradient over every row
                    // (one op computes both, and the gain's is thrown away): ~10 ms a layer norm on
                    // 32 x 24 tokens. At full shape that gradient is a plain product.
                    long h = shape[r - 1];
                    INDArray full = Nd4j.zeros(DataType.FLOAT, inShape);
                    full.reshape('c', numel() / h, h).addiRowVector(g.array()); // a view: fills full
                    gain = rec.feedOwned(full);
                }
                out = centered.div(sd.math().sqrt(var.add((double) eps))).mul(gain).add(v[2]);
            }
            if (!hoisted) {
                return out;
            }
            rec.shape(out, inShape);
            return rec.reshape(out, shape);
        };
        return backend.compute(shape, graph,
                () -> FloatKernels.layerNorm(array(), g.array().toFloatVector(), bt.array().toFloatVector(), eps), this, g, bt);
    }

    @Override
    public Tensor softmax(int axis) {
        Nd4jTensor x = asFloat();
        int ax = normalizeAxis(axis, shape.length, "softmax");
        Function<SDVariable[], SDVariable> graph = v -> {
            SDVariable kernel = ax == shape.length - 1 ? GraphKernels.softmax(v[0]) : null;
            return kernel != null ? kernel : v[0].getSameDiff().nn().softmax(v[0], ax);
        };
        return backend.compute(shape, graph, () -> {
            INDArray out = Nd4j.createUninitialized(DataType.FLOAT, shape, 'c');
            if (out.length() > 0) {
                Nd4j.exec((CustomOp) new SoftMax(x.array(), out, ax));
            }
            return out;
        }, x);
    }

    @Override
    public Tensor gather(Tensor indices) {
        Nd4jTensor given = backend.unwrap(indices);
        if (shape.length != 2) {
            throw new PeftException("gather needs a 2-D table, got shape " + Arrays.toString(shape));
        }
        Nd4jTensor idx = given.dtype == DType.INT64 ? given : (Nd4jTensor) given.toType(DType.INT64);
        long rows = shape[0];
        long[] flat = idx.toLongArray();
        for (long i : flat) {
            if (i < 0 || i >= rows) {
                throw new PeftException("gather: index " + i + " is out of range for a table of " + rows
                        + " rows (shape " + Arrays.toString(shape) + ")");
            }
        }
        long[] outShape = concat(idx.shape, shape[1]);
        if (idx.numel() == 0) {
            return backend.constant(Nd4j.create(dataTypeOf(dtype), outShape));
        }
        Function<SDVariable[], SDVariable> graph =
                v -> recordGather(v[0].getSameDiff(), v[0], rows, flat, outShape, backend.recorder());
        return backend.compute(outShape, graph,
                () -> withShape(Nd4j.exec(new Gather(array(), idx.array(), 0))[0], outShape), this);
    }

    /** Positions per one-hot block when recording a gather with repeated indices. */
    private static final int GATHER_CHUNK = 256;

    /**
     * Records a row lookup with stock SameDiff operations whose gradients are right. SameDiff's own
     * {@code gather} gradient (1.0.0-M2.1) is wrong: it fails for most index shapes and, where it
     * runs, writes the incoming gradient into the first rows instead of the looked-up ones (and
     * overwrites instead of summing repeats). So:
     *
     * <ul>
     *   <li>rows are moved with {@code unsortedSegmentSum}, each table row into at most one
     *       segment (its gradient is a correct gather of the output gradient);
     *   <li>without repeated indices, one segment sum puts every looked-up row at its position;
     *   <li>with repeats, the distinct rows are extracted first, then each block of at most
     *       {@value #GATHER_CHUNK} positions multiplies a constant one-hot matrix with that block's
     *       distinct rows (the matmul gradient sums the repeats); cost stays linear in the number
     *       of positions whatever the table size.
     * </ul>
     */
    private static SDVariable recordGather(SameDiff sd, SDVariable table, long rows, long[] flat, long[] outShape,
            Recorder rec) {
        int n = flat.length;
        int cols = Math.toIntExact(outShape[outShape.length - 1]);
        long[] distinct = Arrays.stream(flat).sorted().distinct().toArray();
        int nu = distinct.length;
        if (nu == n) {
            long[] seg = new long[Math.toIntExact(rows)];
            Arrays.fill(seg, n);
            for (int p = 0; p < n; p++) {
                seg[(int) flat[p]] = p;
            }
            SDVariable moved = sd.unsortedSegmentSum(table, rec.feedOwned(longs(seg)), n + 1);
            return sd.reshape(sd.slice(moved, new int[] {0, 0}, n, cols), outShape);
        }
        long[] seg = new long[Math.toIntExact(rows)];
        Arrays.fill(seg, nu);
        for (int j = 0; j < nu; j++) {
            seg[(int) distinct[j]] = j;
        }
        SDVariable unique = sd.slice(sd.unsortedSegmentSum(table, rec.feedOwned(longs(seg)), nu + 1),
                new int[] {0, 0}, nu, cols);
        java.util.List<SDVariable> parts = new java.util.ArrayList<>();
        for (int start = 0; start < n; start += GATHER_CHUNK) {
            int len = Math.min(GATHER_CHUNK, n - start);
            int[] u = new int[len];
            for (int q = 0; q < len; q++) {
                u[q] = Arrays.binarySearch(distinct, flat[start + q]);
            }
            int[] local = Arrays.stream(u).sorted().distinct().toArray();
            int k = local.length;
            long[] seg2 = new long[nu];
            Arrays.fill(seg2, k);
            for (int j = 0; j < k; j++) {
                seg2[local[j]] = j;
            }
            SDVariable blockRows = sd.slice(sd.unsortedSegmentSum(unique, rec.feedOwned(longs(seg2)), k + 1),
                    new int[] {0, 0}, k, cols);
            float[] onehot = new float[len * k];
            for (int q = 0; q < len; q++) {
                onehot[q * k + Arrays.binarySearch(local, u[q])] = 1f;
            }
            INDArray select = Nd4j.create(onehot, new long[] {len, k}, DataType.FLOAT);
            parts.add(sd.mmul(rec.feedOwned(select), blockRows));
        }
        SDVariable all = parts.size() == 1 ? parts.get(0) : sd.concat(0, parts.toArray(new SDVariable[0]));
        return sd.reshape(all, outShape);
    }

    private static INDArray longs(long[] v) {
        return Nd4j.create(v, new long[] {v.length}, DataType.LONG);
    }

    @Override
    public Tensor greaterThan(float threshold) {
        INDArray mask = array().gt(threshold);
        INDArray out = mask.castTo(DataType.FLOAT);
        if (out != mask) {
            closeArray(mask);
        }
        return backend.constant(out, this);
    }

    @Override
    public Tensor detach() {
        return backend.constant(array().dup('c'));
    }
}
