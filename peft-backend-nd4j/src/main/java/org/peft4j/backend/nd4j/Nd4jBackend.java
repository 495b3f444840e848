package org.peft4j.backend.nd4j;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.Supplier;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.random.impl.UniformDistribution;
import org.nd4j.linalg.api.rng.Random;
import org.nd4j.linalg.factory.Nd4j;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.DType;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link Backend} on ND4J (nd4j-native, CPU). Tensors wrap {@link INDArray}s:
 * every operation returns a fresh array (ND4J views are copied), so a tensor owns its native buffer
 * and releasing it frees that buffer at once with {@link INDArray#close()}. The exceptions are
 * reshapes and permutations, which share their source's buffer and pin the source until released
 * (no operation writes into an array after making it, so sharing is safe); outside
 * {@link #gradients} a permutation is a strided view, which the operations read as it is.
 *
 * <p>Memory: each thread has its own stack of {@link Scope}s; a tensor made while a scope is open
 * on the making thread belongs to that scope, other tensors (and {@linkplain #keep kept} ones)
 * belong to the backend until {@link #release} or {@link #close}.
 *
 * <p>Autodiff: while {@link #gradients} runs the loss, a per-thread {@link Recorder} traces every
 * operation that depends on a parameter into a SameDiff graph, then lets SameDiff differentiate
 * that graph. No backward pass is written by hand. Such operations are only recorded, not computed
 * (SameDiff computes them once, in its gradient run), unless the loss supplier reads a value; an
 * intermediate of the loss that nothing read inside the supplier has no value once
 * {@code gradients} returns (reading it then fails clearly). {@link #LAZY_GRADIENTS_PROPERTY}
 * {@code =false} computes every operation eagerly as well.
 *
 * <p>Random numbers come from a generator owned by this backend (seeded by {@link #seed}), so
 * results do not depend on which thread draws them.
 */
public final class Nd4jBackend implements Backend {
    private static final Logger LOG = LoggerFactory.getLogger(Nd4jBackend.class);
    /** System property: how many differentiated graphs to keep for reuse (0 turns reuse off). */
    public static final String GRAPH_CACHE_PROPERTY = "peft4j.nd4j.graphCache";
    /**
     * Default number of kept graphs: none. Reuse makes a fixed-shape MiniLM step ~1.7x faster but
     * holds the step's arrays (~4 GB at 32 x 64 tokens) between calls; with batches of several
     * lengths the kept arrays of each length add up (measured: peak RSS 21 GB on the 4,000-sentence
     * job), so it is for fixed-shape training on a machine with memory to spare.
     */
    public static final int DEFAULT_GRAPH_CACHE = 0;
    /**
     * System property: the most the kept graphs' arrays hold between runs, as a fraction of ND4J's
     * off-heap limit (JavaCPP's {@code org.bytedeco.javacpp.maxbytes}, by default the maximum heap).
     */
    public static final String GRAPH_MEMORY_PROPERTY = "peft4j.nd4j.graphMemory";
    /** Training batches are padded to a multiple of this many tokens, so kept graphs are reused. */
    public static final int LENGTH_BUCKET = 16;
    /** Default for {@link #GRAPH_MEMORY_PROPERTY}: a MiniLM step on 32 x 64 tokens reuses ~4 GB. */
    public static final double DEFAULT_GRAPH_MEMORY = 0.75;
    /**
     * System property: {@code false} computes the loss eagerly inside {@link #gradients} as well as
     * recording it (the forward pass then runs twice); default {@code true}.
     */
    public static final String LAZY_GRADIENTS_PROPERTY = "peft4j.nd4j.lazyGradients";
    /**
     * System property: {@code false} keeps every array of a gradient run until the run ends, as
     * SameDiff does on its own; by default an array goes back to the run's cache once the last
     * operation reading it has run (see {@link GradientRun}).
     */
    public static final String RECYCLE_ARRAYS_PROPERTY = "peft4j.nd4j.recycleArrays";

    private final TensorOwner root = new TensorOwner("backend");
    private final ThreadLocal<ArrayDeque<Nd4jScope>> scopes = ThreadLocal.withInitial(ArrayDeque::new);
    private final Set<Nd4jScope> openScopes = ConcurrentHashMap.newKeySet();
    private final ThreadLocal<Recorder> recording = new ThreadLocal<>();
    private final Object rngLock = new Object();
    private final Random rng;
    private final GraphCache graphs;
    private final boolean lazyGradients;
    private final boolean recycleArrays;
    private volatile boolean closed;

    private static double graphMemoryFraction() {
        String v = System.getProperty(GRAPH_MEMORY_PROPERTY);
        if (v == null) {
            return DEFAULT_GRAPH_MEMORY;
        }
        try {
            double f = Double.parseDouble(v.trim());
            if (f > 0 && f < 1) {
                return f;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new PeftException(GRAPH_MEMORY_PROPERTY + " must be a number above 0 and below 1, got '" + v + "'");
    }

    /**
     * Loads ND4J's native engine (if not yet loaded) and creates an empty backend that keeps
     * differentiated graphs as {@link #GRAPH_CACHE_PROPERTY} and {@link #GRAPH_MEMORY_PROPERTY} say.
     */
    public Nd4jBackend() {
        this(Integer.getInteger(GRAPH_CACHE_PROPERTY, DEFAULT_GRAPH_CACHE), graphMemoryFraction(),
                flag(LAZY_GRADIENTS_PROPERTY), flag(RECYCLE_ARRAYS_PROPERTY));
    }

    /** A true-by-default system property; anything but {@code true} or {@code false} is an error. */
    private static boolean flag(String property) {
        String v = System.getProperty(property, "true").trim();
        if (v.equalsIgnoreCase("true") || v.equalsIgnoreCase("false")) {
            return Boolean.parseBoolean(v);
        }
        throw new PeftException(property + " must be true or false, got '" + v + "'");
    }

    /**
     * A backend keeping at most {@code keptGraphs} differentiated graphs (0: none), recording the
     * loss without computing it when {@code lazyGradients}, recycling a gradient run's arrays as
     * it goes when {@code recycleArrays}; for tests.
     */
    Nd4jBackend(int keptGraphs, double graphMemory, boolean lazyGradients, boolean recycleArrays) {
        Nd4jBlas.choose(); // before anything loads ND4J
        adviseWaitPolicy();
        this.lazyGradients = lazyGradients;
        this.recycleArrays = recycleArrays;
        this.graphs = new GraphCache(keptGraphs, graphMemory);
        long t0 = System.nanoTime();
        this.rng = Nd4j.getRandomFactory().getNewRandomInstance(System.nanoTime());
        UnzeroedBuffers.install();
        // libnd4j's loops take their thread count from maxMasterThreads (its setMaxThreads does nothing in M2.1);
        // OpenBLAS has one pool per process
        Backend.intraOpThreads().ifPresent(n -> {
            Nd4j.getEnvironment().setMaxMasterThreads(n);
            Nd4j.factory().blas().setMaxThreads(n);
        });
        if (LOG.isDebugEnabled()) {
            LOG.debug("ND4J backend ready in {} ms: {}", (System.nanoTime() - t0) / 1_000_000,
                    Nd4j.getExecutioner().getEnvironmentInformation());
        }
    }

    private static final java.util.concurrent.atomic.AtomicBoolean WAIT_POLICY_ADVISED =
            new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * ND4J's OpenMP worker threads spin while they wait for work (libgomp's default), and on a
     * machine with few cores they take turns away from OpenBLAS's threads: with
     * {@code OMP_WAIT_POLICY=PASSIVE} MiniLM LoRA training ran 1.3-1.5x faster
     * (2-core Intel Xeon).
     * The variable is read when the native library loads, so only the launcher can set it
     * ({@code ./peft} does for ND4J); say so once when it is missing.
     */
    private static void adviseWaitPolicy() {
        if (System.getenv("OMP_WAIT_POLICY") == null && WAIT_POLICY_ADVISED.compareAndSet(false, true)) {
            LOG.info("OMP_WAIT_POLICY is not set: on a machine with few cores, start the JVM with "
                    + "OMP_WAIT_POLICY=PASSIVE for faster ND4J training (the ./peft launcher does)");
        }
    }

    @Override
    public String name() {
        return Nd4jBackendProvider.NAME;
    }

    @Override
    public int lengthBucket() {
        return graphs.capacity() > 0 ? LENGTH_BUCKET : 1;
    }

    // ------------------------------------------------------------------ construction

    @Override
    public Tensor fromFloats(float[] data, long... shape) {
        checkShape(data.length, shape, "fromFloats");
        INDArray a = data.length == 0 ? Nd4j.create(DataType.FLOAT, shape) : Nd4j.create(data, shape, DataType.FLOAT);
        return wrap(a);
    }

    @Override
    public Tensor fromLongs(long[] data, long... shape) {
        checkShape(data.length, shape, "fromLongs");
        INDArray a = data.length == 0 ? Nd4j.create(DataType.LONG, shape) : Nd4j.create(data, shape, DataType.LONG);
        return wrap(a);
    }

    @Override
    public Tensor full(float value, long... shape) {
        checkShape(-1, shape, "full");
        INDArray a = Nd4j.create(DataType.FLOAT, shape);
        if (value != 0f && a.length() > 0) {
            a.assign(value);
        }
        return wrap(a);
    }

    @Override
    public Tensor randomUniform(long... shape) {
        checkShape(-1, shape, "randomUniform");
        INDArray a = Nd4j.createUninitialized(DataType.FLOAT, shape, 'c');
        if (a.length() > 0) {
            synchronized (rngLock) {
                Nd4j.getExecutioner().exec(new UniformDistribution(a, 0.0, 1.0), rng);
            }
        }
        return wrap(a);
    }

    @Override
    public void seed(long seed) {
        synchronized (rngLock) {
            rng.setSeed(seed);
        }
    }

    @Override
    public Tensor concat(List<Tensor> tensors, int axis) {
        if (tensors == null || tensors.isEmpty()) {
            throw new PeftException("concat needs at least one tensor");
        }
        Nd4jTensor[] in = new Nd4jTensor[tensors.size()];
        for (int i = 0; i < in.length; i++) {
            in[i] = unwrap(tensors.get(i));
        }
        long[] first = in[0].shape();
        int ax = Nd4jTensor.normalizeAxis(axis, first.length, "concat");
        DType type = in[0].dtype();
        long total = 0;
        for (Nd4jTensor t : in) {
            long[] s = t.shape();
            boolean ok = s.length == first.length;
            for (int d = 0; ok && d < s.length; d++) {
                ok = d == ax || s[d] == first[d];
            }
            if (!ok) {
                throw new PeftException("concat along axis " + axis + " needs equal sizes on every other axis, got shapes "
                        + shapesOf(in));
            }
            if (t.dtype() != type) {
                throw new PeftException("concat needs tensors of one type, got " + type + " and " + t.dtype());
            }
            total += s[ax];
        }
        long[] expected = first.clone();
        expected[ax] = total;
        return compute(expected, v -> sameDiff(v).concat(ax, v), () -> {
            if (in.length == 1) {
                return in[0].array().dup('c');
            }
            INDArray[] arrays = new INDArray[in.length];
            for (int i = 0; i < in.length; i++) {
                arrays[i] = in[i].array();
            }
            INDArray out = Nd4j.concat(ax, arrays);
            if (!Arrays.equals(out.shape(), expected)) {
                throw new PeftException("ND4J concat gave shape " + Arrays.toString(out.shape()) + ", expected "
                        + Arrays.toString(expected));
            }
            return out;
        }, in);
    }

    private static String shapesOf(Nd4jTensor[] in) {
        List<String> s = new ArrayList<>();
        for (Nd4jTensor t : in) {
            s.add(Arrays.toString(t.shape()));
        }
        return String.join(", ", s);
    }

    private static SameDiff sameDiff(SDVariable[] v) {
        return v[0].getSameDiff();
    }

    /** Validates a shape (and, when {@code length >= 0}, that it holds {@code length} elements). */
    static void checkShape(long length, long[] shape, String op) {
        if (shape == null) {
            throw new PeftException(op + ": shape is null");
        }
        long n = Tensor.numel(shape);
        if (length >= 0 && n != length) {
            throw new PeftException(op + ": shape " + Arrays.toString(shape) + " holds " + n + " elements but "
                    + length + " values were given");
        }
    }

    // ------------------------------------------------------------------ ownership

    private void checkOpen() {
        if (closed) {
            throw new PeftException("the nd4j backend is closed");
        }
    }

    /** Wraps a fresh array the caller hands over, owned by the current scope of this thread. */
    Nd4jTensor wrap(INDArray array) {
        return wrap(array, array);
    }

    /**
     * Wraps {@code array}, whose memory is owned by {@code base} ({@code array} itself, or a fresh
     * private array {@code array} is a view of); the tensor frees {@code base} when released.
     */
    Nd4jTensor wrap(INDArray array, INDArray base) {
        checkOpen();
        if (base != array && !array.isView() && (array.length() == 0 || base.length() == 0
                || array.data().address() != base.data().address())) {
            // ND4J copied instead of viewing: the copy owns its memory, the intermediate can go
            Nd4jTensor.closeArray(base);
            base = array;
        }
        DataType type = array.dataType();
        if (type != DataType.FLOAT && type != DataType.LONG) {
            INDArray converted = array.castTo(type.isIntType() ? DataType.LONG : DataType.FLOAT);
            Nd4jTensor.closeArray(base);
            array = converted;
            base = converted;
        }
        Nd4jTensor t = new Nd4jTensor(this, array, base);
        currentOwner().add(t);
        return t;
    }

    /** An eager result that is a deliberate view of a private array: the view and that array. */
    record View(INDArray out, INDArray base) {
        /** A product {@code y} (2-D) as {@code shape}: {@code y} itself when that is 2-D too, else a view of it. */
        static View reshaped(INDArray y, long[] shape) {
            return shape.length == y.rank() ? new View(y, null) : new View(y.reshape('c', shape), y);
        }
    }

    /**
     * The result of an operation, the one place that decides between recording and computing. On
     * a lazy tape, when an input depends on a parameter, the result is only recorded (as
     * {@code graph}): SameDiff's gradient run computes it. Otherwise {@code eager} computes it now
     * and, on an eager tape, it is also recorded.
     *
     * @param shape the result's shape, known before anything is computed
     * @param graph the same operation on SameDiff variables (one per input, in order)
     * @param eager computes the result's array; copied if it is a view or shares memory with an
     *     input
     * @param inputs the operands
     */
    Nd4jTensor compute(long[] shape, Function<SDVariable[], SDVariable> graph, Supplier<INDArray> eager,
            Nd4jTensor... inputs) {
        Nd4jTensor t = deferred(shape, graph, inputs);
        return t != null ? t : result(eager.get(), null, graph, inputs);
    }

    /** {@link #compute} for an eager result that may be a view of a private array ({@link View#base}). */
    Nd4jTensor computeView(long[] shape, Function<SDVariable[], SDVariable> graph, Supplier<View> eager,
            Nd4jTensor... inputs) {
        Nd4jTensor t = deferred(shape, graph, inputs);
        if (t != null) {
            return t;
        }
        View v = eager.get();
        return result(v.out(), v.base(), graph, inputs);
    }

    /**
     * {@link #compute} for a result that may be a view of {@code input}'s buffer (a reshape or a
     * permutation), kept as such, pinning {@code input}, instead of copied: a dense row-major view
     * always, a strided one ({@code strided}) only outside {@link #gradients} (SameDiff is fed dense
     * arrays). Attention's head split copied every query, key and value twice per layer (~50 MB at
     * 32 x 64 MiniLM tokens); batched products read the strided heads as they are.
     */
    Nd4jTensor computeShared(long[] shape, Function<SDVariable[], SDVariable> graph, Supplier<INDArray> eager,
            Nd4jTensor input, boolean strided) {
        Nd4jTensor t = deferred(shape, graph, input);
        if (t != null) {
            return t;
        }
        INDArray out = eager.get();
        INDArray in = input.array();
        boolean shares = out.length() > 0 && in.data().address() == out.data().address()
                && (Nd4jTensor.isPlain(out) || strided && recording.get() == null);
        if (!shares) {
            return result(out, null, graph, input);
        }
        checkOpen();
        t = Nd4jTensor.sharing(this, out, input);
        currentOwner().add(t);
        return recorded(t, graph, input);
    }

    private Nd4jTensor result(INDArray out, INDArray base, Function<SDVariable[], SDVariable> graph,
            Nd4jTensor... inputs) {
        return recorded(base != null ? wrap(out, base) : wrap(owned(out, inputs)), graph, inputs);
    }

    private Nd4jTensor recorded(Nd4jTensor t, Function<SDVariable[], SDVariable> graph, Nd4jTensor... inputs) {
        Recorder rec = recording.get();
        if (rec != null) {
            rec.record(t, graph, inputs);
        }
        return t;
    }

    /**
     * A tensor of {@code shape} recorded (as {@code graph} of {@code inputs}) but not computed, when
     * this thread's tape is lazy and an input depends on a parameter; else null (compute it now).
     */
    Nd4jTensor deferred(long[] shape, Function<SDVariable[], SDVariable> graph, Nd4jTensor... inputs) {
        Recorder rec = recording.get();
        if (rec == null || !rec.isLazy() || !rec.tracksAny(inputs)) {
            return null;
        }
        checkOpen();
        Nd4jTensor t = new Nd4jTensor(this, shape, rec);
        currentOwner().add(t);
        rec.recordDeferred(t, graph, inputs);
        return t;
    }

    /** Wraps a result that is not differentiable (a constant to autodiff). */
    Nd4jTensor constant(INDArray out, Nd4jTensor... inputs) {
        return wrap(owned(out, inputs));
    }

    /** The active tape of this thread, or null. */
    Recorder recorder() {
        return recording.get();
    }

    /** {@code out}, or a private copy of it when it is a view or shares memory with an input. */
    private static INDArray owned(INDArray out, Nd4jTensor[] inputs) {
        if (out.isView() || out.ordering() != 'c') {
            return out.dup('c');
        }
        if (out.length() > 0) {
            long address = out.data().address();
            for (Nd4jTensor in : inputs) {
                INDArray a = in.array();
                if (a == out || (a.length() > 0 && a.data().address() == address)) {
                    return out.dup('c');
                }
            }
        }
        return out;
    }

    private TensorOwner currentOwner() {
        ArrayDeque<Nd4jScope> stack = scopes.get();
        synchronized (stack) {
            Nd4jScope s = stack.peek();
            return s == null ? root : s;
        }
    }

    /** This backend's tensor; fails clearly for foreign tensors. */
    Nd4jTensor unwrap(Tensor t) {
        if (t instanceof Nd4jTensor n && n.backend() == this) {
            return n;
        }
        if (t == null) {
            throw new PeftException("tensor is null");
        }
        throw new PeftException("tensor from backend '" + t.backend().name() + "' used with backend 'nd4j'"
                + (t instanceof Nd4jTensor ? " (another instance)" : "") + "; copy it over with fromFloats first");
    }

    @Override
    public Scope scope() {
        checkOpen();
        ArrayDeque<Nd4jScope> stack = scopes.get();
        Nd4jScope s;
        synchronized (stack) {
            s = new Nd4jScope(this, stack, stack.size() + 1);
            stack.push(s);
        }
        openScopes.add(s);
        return s;
    }

    void scopeClosed(Nd4jScope s) {
        openScopes.remove(s);
    }

    @Override
    public Tensor keep(Tensor tensor) {
        Nd4jTensor t = unwrap(tensor);
        t.checkLive();
        TensorOwner o = t.owner;
        if (o != root) {
            if (o != null) {
                o.remove(t);
            }
            root.add(t);
        }
        return t;
    }

    @Override
    public void release(Tensor tensor) {
        Nd4jTensor t = unwrap(tensor);
        TensorOwner o = t.owner;
        if (o != null) {
            o.remove(t);
        }
        t.free();
    }

    /** Gradient calls that reused a kept graph, and calls that recorded a new one; for tests. */
    long[] graphCacheStats() {
        return graphs.stats();
    }

    /** Number of tensors the backend itself holds (kept, or made outside any scope); for tests. */
    int liveRootTensors() {
        return root.size();
    }

    // ------------------------------------------------------------------ autodiff

    @Override
    public Gradients gradients(List<Parameter> params, Supplier<Tensor> loss) {
        if (recording.get() != null) {
            throw new PeftException("gradients() calls cannot be nested on one thread");
        }
        List<Nd4jTensor> values = new ArrayList<>(params.size());
        Recorder rec = new Recorder(lazyGradients);
        GraphCache.Entry kept = null;
        try {
            for (int i = 0; i < params.size(); i++) {
                Nd4jTensor v = unwrap(params.get(i).value());
                v.array(); // fails if released
                values.add(v);
                rec.declareParameter(v, "param" + i);
            }
            Nd4jTensor l;
            recording.set(rec);
            try {
                Tensor lt = loss.get();
                if (lt == null) {
                    throw new PeftException("the loss supplier returned null");
                }
                l = unwrap(lt);
            } finally {
                recording.remove();
            }
            if (l.numel() != 1) {
                throw new PeftException("loss must have one element, got shape " + Arrays.toString(l.shape()));
            }
            SDVariable lossVar = rec.variable(l);
            float lossValue = lossVar == null || !l.isDeferred() ? l.item() : Float.NaN;
            Map<String, INDArray> grads = Collections.emptyMap();
            if (lossVar == null) {
                LOG.debug("loss does not depend on any of the {} parameters; all gradients are zero", params.size());
            } else {
                SameDiff sd = rec.sameDiff();
                if (lossVar.dataType() != DataType.FLOAT) {
                    lossVar = lossVar.castTo(DataType.FLOAT);
                }
                sd.setLossVariables(lossVar);
                List<String> names = new ArrayList<>(rec.usedParameters());
                long t0 = System.nanoTime();
                String signature = graphs.capacity() > 0 ? GraphCache.signature(sd, names) : null;
                kept = signature == null ? null : graphs.take(signature);
                SameDiff run = sd;
                if (kept != null) {
                    for (Map.Entry<String, INDArray> p : rec.parameterArrays().entrySet()) {
                        kept.parameters.get(p.getKey()).assign(p.getValue());
                    }
                    run = kept.sameDiff;
                }
                String lossName = lossVar.name();
                try {
                    SameDiff graph = run;
                    GradientRun.Result result = SameDiffStdout.quietly(
                            () -> GradientRun.run(graph, rec.feeds(), List.of(lossName), names, recycleArrays));
                    grads = result.gradients();
                    if (l.isDeferred()) {
                        INDArray computed = result.outputs().get(lossName);
                        lossValue = computed.getFloat(0);
                        l.provide(l.rank() == 0 ? Nd4j.scalar(lossValue) : Nd4j.scalar(lossValue).reshape('c', l.shape()).dup('c'));
                    }
                } catch (RuntimeException e) {
                    if (kept != null) {
                        kept.free();
                        kept = null;
                    }
                    throw new PeftException("SameDiff could not differentiate the loss (" + rec.recordedOps()
                            + " recorded operations): " + e.getMessage(), e);
                }
                if (kept == null && signature != null) {
                    kept = rec.adopt(signature);
                }
                if (LOG.isTraceEnabled()) {
                    LOG.trace("SameDiff differentiated {} operations for {} parameters in {} ms ({} graph)",
                            rec.recordedOps(), names.size(), (System.nanoTime() - t0) / 1_000_000,
                            run == sd ? "new" : "kept");
                }
            }
            if (rec.materializedValues() > 0) {
                LOG.debug("the loss supplier read {} recorded values; each ran part of the graph",
                        rec.materializedValues());
            }
            List<Tensor> out = new ArrayList<>(values.size());
            for (Nd4jTensor v : values) {
                INDArray g = grads.get(rec.parameterName(v));
                if (g == null) {
                    out.add(wrap(Nd4j.create(DataType.FLOAT, v.shape())));
                    continue;
                }
                if (!Arrays.equals(g.shape(), v.shape())) {
                    if (g.length() != v.numel()) {
                        throw new PeftException("SameDiff gradient has shape " + Arrays.toString(g.shape())
                                + " for a parameter of shape " + Arrays.toString(v.shape()));
                    }
                    g = g.reshape('c', v.shape());
                }
                out.add(wrap(g.dup('c')));
                if (kept == null) {
                    rec.disposeResult(g); // a kept graph's session recycles its results instead
                }
            }
            return new Gradients(lossValue, out);
        } finally {
            if (kept != null) {
                graphs.recycle(kept, rec.feeds().values());
            }
            rec.close();
            if (kept != null) {
                graphs.put(kept);
            }
        }
    }

    // ------------------------------------------------------------------ lifecycle

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Nd4jScope s : new ArrayList<>(openScopes)) {
            s.releaseAll();
        }
        openScopes.clear();
        root.releaseAll();
        graphs.close();
        synchronized (rngLock) {
            try {
                rng.close();
            } catch (Exception e) {
                LOG.debug("could not close the ND4J random generator", e);
            }
        }
    }

    @Override
    public String toString() {
        return "Nd4jBackend[" + (closed ? "closed" : root.size() + " tensors held, " + openScopes.size()
                + " open scopes") + "]";
    }
}
