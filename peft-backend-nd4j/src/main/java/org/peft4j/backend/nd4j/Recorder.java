package org.peft4j.backend.nd4j;

import java.util.ArrayList;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.shape.Reshape;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.DType;

/**
 * The tape of one {@link Nd4jBackend#gradients} call. While it is active on a thread, every
 * operation whose operands depend on a parameter is recorded into a {@link SameDiff} graph;
 * SameDiff then differentiates that graph. A lazy tape only records such operations: their
 * tensors get a value when something reads one (SameDiff runs the graph recorded so far) or, for
 * the loss, from the gradient run, which computes the forward pass anyway. An eager tape computes
 * every operation as it is recorded.
 *
 * <p>Parameters become SameDiff variables (holding a copy of their value) the first time they are
 * used. Operands that do not depend on a parameter become SameDiff placeholders fed with the
 * tensor's own buffer; such tensors are pinned so that releasing them during the computation
 * defers freeing their memory until the tape closes.
 *
 * <p>Confined to one thread.
 */
final class Recorder implements AutoCloseable {
    private final SameDiff sd = SameDiff.create();
    private final Map<Nd4jTensor, SDVariable> variables = new IdentityHashMap<>();
    private final Map<Nd4jTensor, SDVariable> constants = new IdentityHashMap<>();
    private final Map<Nd4jTensor, String> parameters = new IdentityHashMap<>();
    private final Set<String> usedParameters = new LinkedHashSet<>();
    private final List<Nd4jTensor> pinned = new ArrayList<>();
    private final Map<String, INDArray> feeds = new java.util.HashMap<>();
    private final List<INDArray> ownedArrays = new ArrayList<>();
    private final List<INDArray> disposed = new ArrayList<>();
    private final Map<String, INDArray> parameterArrays = new java.util.LinkedHashMap<>();
    /** Shapes of graph variables, by name, where the tape knows them (SameDiff does not until it runs). */
    private final Map<String, long[]> shapes = new java.util.HashMap<>();
    /** Reshapes recorded so far, by source variable and shape: one reshape serves every reader. */
    private final Map<String, SDVariable> reshapes = new java.util.HashMap<>();
    private final boolean lazy;
    private final List<Nd4jTensor> deferred = new ArrayList<>();
    private final Thread thread = Thread.currentThread();
    private boolean adopted;
    private boolean closed;
    private int recorded;
    private int materialized;

    /** @param lazy record operations on parameters without computing them */
    Recorder(boolean lazy) {
        this.lazy = lazy;
    }

    boolean isLazy() {
        return lazy;
    }

    SameDiff sameDiff() {
        return sd;
    }

    /** Declares {@code value} as the value of a parameter to differentiate for, named {@code name}. */
    void declareParameter(Nd4jTensor value, String name) {
        parameters.putIfAbsent(value, name);
    }

    /** The variable name of the parameter whose value is {@code value}. */
    String parameterName(Nd4jTensor value) {
        return parameters.get(value);
    }

    /** Names of the parameters some recorded operation used. */
    Collection<String> usedParameters() {
        return usedParameters;
    }

    /** Number of operations recorded so far. */
    int recordedOps() {
        return recorded;
    }

    /** Whether {@code t} depends on a parameter (is one, or was computed from one). */
    boolean tracks(Nd4jTensor t) {
        return variables.containsKey(t) || parameters.containsKey(t);
    }

    /** Whether any of {@code inputs} depends on a parameter. */
    boolean tracksAny(Nd4jTensor... inputs) {
        for (Nd4jTensor in : inputs) {
            if (tracks(in)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Records {@code result} (a tensor without a value yet) as computed by {@code graph} from
     * {@code inputs}, at least one of which depends on a parameter; it is orphaned if the tape
     * closes before anything reads it.
     */
    void recordDeferred(Nd4jTensor result, Function<SDVariable[], SDVariable> graph, Nd4jTensor... inputs) {
        record(result, graph, inputs);
        deferred.add(result);
    }

    /** The arrays a graph run must not free: the fed inputs (tensors own them) and the parameter copies. */
    private List<INDArray> ownedElsewhere() {
        List<INDArray> keep = new ArrayList<>(feeds.values());
        keep.addAll(parameterArrays.values());
        return keep;
    }

    /**
     * Computes the value of a recorded tensor now: SameDiff runs the part of the graph recorded so
     * far that {@code t} needs (the parameters' values as they were first used, the fed inputs).
     * Returns a fresh array the caller owns.
     */
    INDArray materialize(Nd4jTensor t) {
        if (closed || Thread.currentThread() != thread) {
            throw new PeftException("tensor " + java.util.Arrays.toString(t.shape()) + " is being computed by a"
                    + " gradients() call on another thread; read it on that thread, inside the loss supplier");
        }
        SDVariable v = variables.get(t);
        if (v == null) {
            throw new IllegalStateException("a deferred tensor the tape did not record");
        }
        String name = v.name();
        INDArray value;
        try {
            Map<String, INDArray> out = SameDiffStdout.quietly(() -> sd.output(feeds, name));
            INDArray r = out.get(name);
            long[] shape = t.shape();
            value = java.util.Arrays.equals(r.shape(), shape) ? r.dup('c') : r.reshape('c', shape).dup('c');
        } catch (RuntimeException e) {
            throw new PeftException("SameDiff could not compute a recorded value (" + recorded
                    + " recorded operations): " + e.getMessage(), e);
        } finally {
            // a fresh session for the next run: the gradient run must not see this run's arrays
            GraphCache.freeSessionArrays(sd, ownedElsewhere(), false);
            sd.getSessions().clear();
        }
        materialized++;
        return value;
    }

    /** Number of recorded values read inside the loss supplier (each ran part of the graph). */
    int materializedValues() {
        return materialized;
    }

    /** The graph variable computing {@code t}, or null when {@code t} does not depend on a parameter. */
    SDVariable variable(Nd4jTensor t) {
        SDVariable v = variables.get(t);
        if (v == null) {
            String name = parameters.get(t);
            if (name != null) {
                if (t.dtype() != DType.FLOAT32) {
                    throw new PeftException("parameter " + name + " has type " + t.dtype()
                            + "; only FLOAT32 parameters can be differentiated");
                }
                INDArray copy = t.array().dup('c');
                parameterArrays.put(name, copy);
                v = sd.var(name, copy);
                variables.put(t, v);
                usedParameters.add(name);
            }
        }
        return v;
    }

    /**
     * {@code t} as a graph operand: its variable, else a placeholder fed with (and pinning) its
     * buffer. Placeholders rather than SameDiff constants: SameDiff copies every constant (by
     * serializing the graph) when it builds the gradient function, which for frozen weights would
     * copy the model on every step.
     */
    SDVariable operand(Nd4jTensor t) {
        SDVariable v = variable(t);
        if (v != null) {
            return v;
        }
        v = constants.get(t);
        if (v == null) {
            t.pin();
            pinned.add(t);
            v = feed(t.array());
            constants.put(t, v);
        }
        return v;
    }

    /** A placeholder fed with {@code array} when the graph runs; {@code array} must outlive the tape. */
    SDVariable feed(INDArray array) {
        String name = "in" + feeds.size();
        SDVariable v = sd.placeHolder(name, array.dataType(), array.shape());
        feeds.put(name, array);
        return v;
    }

    /** A placeholder fed with {@code array}, which the tape frees when it closes. */
    SDVariable feedOwned(INDArray array) {
        return feed(own(array));
    }

    /** The arrays to feed the placeholders with. */
    Map<String, INDArray> feeds() {
        return feeds;
    }

    /**
     * Records that {@code result} was computed by {@code graph} from {@code inputs}, if any input
     * depends on a parameter; otherwise {@code result} is a constant and nothing is recorded.
     */
    void record(Nd4jTensor result, Function<SDVariable[], SDVariable> graph, Nd4jTensor... inputs) {
        if (!tracksAny(inputs)) {
            return;
        }
        SDVariable[] operands = new SDVariable[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            operands[i] = operand(inputs[i]);
            shapes.putIfAbsent(operands[i].name(), inputs[i].shape());
        }
        SDVariable out = graph.apply(operands);
        shapes.putIfAbsent(out.name(), result.shape());
        variables.put(result, out);
        recorded++;
    }

    /** The shape of {@code v} as the tape knows it, or null. */
    long[] shapeOf(SDVariable v) {
        return shapes.get(v.name());
    }

    /** Notes the shape of {@code v}, an intermediate variable a recorded operation made. */
    void shape(SDVariable v, long... shape) {
        shapes.put(v.name(), shape);
    }

    /**
     * Records {@code v} reshaped. A reshape copies in a SameDiff run (and again in the backward),
     * so: a reshape of a reshape (a linear layer's output split into heads, merged heads
     * flattened for the next layer) reshapes the first one's input, which then has no reader and
     * is not run; a reshape back to that input's own shape is the input; and one reshape of a
     * variable to a shape serves every reader (query, key and value flatten the same input).
     */
    SDVariable reshape(SDVariable v, long... shape) {
        SDVariable source = v;
        if (sd.getVariableOutputOp(v.name()) instanceof Reshape producer) {
            source = producer.arg(0);
        }
        if (java.util.Arrays.equals(shapes.get(source.name()), shape)) {
            return source;
        }
        String key = source.name() + java.util.Arrays.toString(shape);
        SDVariable r = reshapes.get(key);
        if (r == null) {
            r = sd.reshape(source, shape);
            reshapes.put(key, r);
            shapes.put(r.name(), shape);
        }
        return r;
    }

    /**
     * Records an element-wise {@code op} of {@code x}, whose result has {@code x}'s shape,
     * {@code shape}. When {@code x} is a recorded reshape of a variable of known shape, the op
     * runs on that variable and its result is reshaped instead: a following reshape back (a linear
     * layer's input after GELU on the previous one's output) then records none.
     */
    SDVariable elementwise(SDVariable x, long[] shape, java.util.function.UnaryOperator<SDVariable> op) {
        SDVariable source = reshapeSource(x);
        if (source == null) {
            return op.apply(x);
        }
        SDVariable y = op.apply(source);
        shapes.put(y.name(), shapes.get(source.name()));
        return reshape(y, shape);
    }

    /**
     * Records an element-wise {@code op} of {@code a} and {@code b}, both of the result's shape
     * {@code shape} (no broadcasting). When one is a recorded reshape of a variable of known shape
     * and the other is a reshape of a variable of that same shape, or a fed constant (its buffer
     * fed again in that shape, a view), the op runs in that shape and its result is reshaped: a
     * residual connection then keeps a linear layer's flat output flat.
     */
    SDVariable elementwise(SDVariable a, SDVariable b, long[] shape, java.util.function.BinaryOperator<SDVariable> op) {
        SDVariable sa = reshapeSource(a);
        SDVariable sb = reshapeSource(b);
        long[] flat = sa != null ? shapes.get(sa.name()) : sb != null ? shapes.get(sb.name()) : null;
        if (flat != null) {
            SDVariable x = sa != null ? sa : asFed(a, flat);
            SDVariable y = sb != null ? sb : asFed(b, flat);
            if (x != null && y != null && java.util.Arrays.equals(shapes.get(x.name()), flat)
                    && java.util.Arrays.equals(shapes.get(y.name()), flat)) {
                SDVariable out = op.apply(x, y);
                shapes.put(out.name(), flat);
                return reshape(out, shape);
            }
        }
        return op.apply(a, b);
    }

    /** The variable {@code v} is a recorded reshape of, when its shape is known; else null. */
    SDVariable reshapeSource(SDVariable v) {
        if (sd.getVariableOutputOp(v.name()) instanceof Reshape producer) {
            SDVariable source = producer.arg(0);
            if (shapes.containsKey(source.name())) {
                return source;
            }
        }
        return null;
    }

    /**
     * The fed constant {@code v} fed again in {@code shape} (a view of the same c-ordered buffer, so
     * nothing is copied), or null when {@code v} is not a fed constant or its buffer is not laid out so.
     */
    private SDVariable asFed(SDVariable v, long[] shape) {
        INDArray array = feeds.get(v.name());
        if (array == null || array.ordering() != 'c' || array.isView() || array.length() == 0) {
            return null;
        }
        String key = v.name() + java.util.Arrays.toString(shape);
        SDVariable r = reshapes.get(key);
        if (r == null) {
            r = feed(array.reshape('c', shape));
            reshapes.put(key, r);
            shapes.put(r.name(), shape);
        }
        return r;
    }

    /** Maps {@code result} to the same graph variable as {@code input} (an identity). */
    void alias(Nd4jTensor result, Nd4jTensor input) {
        SDVariable v = variables.get(input);
        if (v == null && parameters.containsKey(input)) {
            v = variable(input);
        }
        if (v != null) {
            variables.put(result, v);
        }
    }

    /** Hands {@code array} (a constant made for the graph only) to the tape, which frees it on close. */
    INDArray own(INDArray array) {
        ownedArrays.add(array);
        return array;
    }

    /**
     * Frees an array SameDiff returned (after it was copied), unless it shares memory with an
     * array the graph was fed (those belong to tensors).
     */
    void disposeResult(INDArray result) {
        if (result.isView() || result.length() == 0) {
            return;
        }
        long address = result.data().address();
        for (INDArray fed : feeds.values()) {
            if (fed == result || (fed.length() > 0 && fed.data().address() == address)) {
                return;
            }
        }
        disposed.add(result);
    }

    /** The values of the parameters the graph uses, by variable name (copies the tape owns). */
    Map<String, INDArray> parameterArrays() {
        return parameterArrays;
    }

    /**
     * Hands the recorded graph and its parameter copies over to a {@link GraphCache} entry; closing
     * the tape then leaves them alone.
     */
    GraphCache.Entry adopt(String signature) {
        adopted = true;
        return new GraphCache.Entry(signature, sd, new java.util.LinkedHashMap<>(parameterArrays));
    }

    /**
     * Frees what SameDiff computed (unless the graph was adopted by a cache), then unpins the fed
     * tensors: the session's arrays are told apart from the fed ones while those are still alive.
     */
    @Override
    public void close() {
        closed = true;
        for (Nd4jTensor t : deferred) {
            t.orphan();
        }
        deferred.clear();
        if (!adopted) {
            GraphCache.freeGraph(sd, ownedElsewhere(), parameterArrays.values());
        }
        parameterArrays.clear();
        java.util.Set<INDArray> seen = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        for (INDArray a : disposed) {
            if (seen.add(a)) {
                Nd4jTensor.closeArray(a);
            }
        }
        disposed.clear();
        for (Nd4jTensor t : pinned) {
            t.unpin();
        }
        pinned.clear();
        variables.clear();
        constants.clear();
        feeds.clear();
        shapes.clear();
        reshapes.clear();
        for (INDArray a : ownedArrays) {
            Nd4jTensor.closeArray(a);
        }
        ownedArrays.clear();
    }
}
