package org.peft4j.core.tuner;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Supplier;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;

/**
 * A per-row adapter choice for the forward passes run inside {@link #with} on this thread (HF
 * PEFT's {@code adapter_names=[...]}): row {@code i} of the batch goes through adapter
 * {@code names.get(i)}, or through none for {@link #BASE}. Layers of a method call
 * {@link #current()} and, when it is set, {@link #apply} their adapters to the rows that chose them.
 *
 * <p>A "row" is, in general, one of {@code names.size()} equal consecutive blocks of a layer's
 * positions (its tensor's axes but the last, flattened). With one name per batch row that is the
 * batch row; with one name per token it routes each token, as a packed batch needs (several texts
 * in one sequence, see {@code BertModel.forward(PackedBatch)}).
 */
public final class RowAdapters {
    /** The row name that means "no adapter" (HF's {@code __base__}). */
    public static final String BASE = "__base__";
    private static final ThreadLocal<RowAdapters> CURRENT = new ThreadLocal<>();

    private final List<String> names;
    private final Map<String, long[]> rowsByName = new LinkedHashMap<>();
    private final long[] inverse;
    /** Tensors derived from this routing, shared by the layers of the pass: see {@link #shared}. */
    private final Map<Object, Tensor> shared = new HashMap<>();

    private RowAdapters(List<String> names) {
        this.names = List.copyOf(names);
        Map<String, List<Long>> groups = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            groups.computeIfAbsent(names.get(i), k -> new ArrayList<>()).add((long) i);
        }
        inverse = new long[names.size()];
        int position = 0;
        for (Map.Entry<String, List<Long>> g : groups.entrySet()) {
            long[] rows = g.getValue().stream().mapToLong(Long::longValue).toArray();
            rowsByName.put(g.getKey(), rows);
            for (long row : rows) {
                inverse[(int) row] = position++;
            }
        }
    }

    /** Runs {@code forward} with row {@code i} routed to adapter {@code names.get(i)}. Calls do not nest. */
    public static <T> T with(List<String> names, Supplier<T> forward) {
        if (CURRENT.get() != null) {
            throw new PeftException("per-row adapters " + names + " requested while " + CURRENT.get().names
                    + " are already set on this thread; RowAdapters.with calls do not nest");
        }
        RowAdapters routing = new RowAdapters(names);
        CURRENT.set(routing);
        try {
            return forward.get();
        } finally {
            CURRENT.remove();
            routing.shared.values().forEach(t -> t.backend().release(t));
        }
    }

    /** The routing of the forward pass running on this thread, or null for the usual active adapters. */
    public static RowAdapters current() {
        return CURRENT.get();
    }

    /** The adapter name of each row; {@link #BASE} for none. */
    public List<String> names() {
        return names;
    }

    /** The names {@link #names} holds, each once, in order of first appearance. */
    public java.util.Set<String> distinctNames() {
        return java.util.Collections.unmodifiableSet(rowsByName.keySet());
    }

    /**
     * A tensor that depends on this routing alone (a per-position adapter mask, say), made by the
     * first layer that asks for {@code key} and handed to every later layer of the pass that asks
     * for an equal key: the layers of a model see the same routing, so the tensor is built and
     * copied to the engine once per pass instead of once per layer. It lives outside any scope
     * until {@link #with} returns, so it must not be read after that (the layers of an eager
     * forward pass only read it while they run).
     */
    public Tensor shared(Object key, Supplier<Tensor> make) {
        Tensor t = shared.get(key);
        if (t == null) {
            t = make.get();
            t = t.backend().keep(t);
            shared.put(key, t);
        }
        return t;
    }

    /**
     * {@code base} plus, for each group of rows, {@code delta.apply(adapter, rowsOfX)}, put back
     * in row order: only rows' own adapters contribute, {@link #BASE} rows and rows whose adapter
     * this layer does not hold ({@code delta} returns null) get nothing.
     *
     * @param base the layer's output without adapters, (batch, ...)
     * @param x the layer's input, (batch, ...)
     * @param delta an adapter's contribution for a sub-batch of {@code x}, shaped like those rows of {@code base}
     */
    public Tensor apply(Tensor base, Tensor x, BiFunction<String, Tensor, Tensor> delta) {
        long blocks = names.size();
        if (base.size(0) != blocks || x.size(0) != blocks) {
            // one name per position (a packed batch): each position is a row of its own
            long positions = base.numel() / base.size(-1);
            if (positions != blocks || x.numel() / x.size(-1) != blocks) {
                throw new org.peft4j.api.PeftException("per-row adapters name " + blocks
                        + " rows, the batch has " + base.size(0) + " rows of " + positions / base.size(0) + " positions");
            }
            return apply(base.reshape(blocks, 1, base.size(-1)), x.reshape(blocks, 1, x.size(-1)), delta)
                    .reshape(base.shape());
        }
        long batch = blocks;
        Backend backend = base.backend();
        long[] outShape = base.shape();
        long rowOut = base.numel() / batch;
        List<Tensor> pieces = new ArrayList<>();
        boolean any = false;
        for (Map.Entry<String, long[]> g : rowsByName.entrySet()) {
            Tensor d = g.getKey().equals(BASE) ? null : delta.apply(g.getKey(), rows(x, g.getValue()));
            any |= d != null;
            pieces.add(d);
        }
        if (!any) {
            return base; // no row uses an adapter here: nothing to add (and no zeros to make)
        }
        int i = 0;
        for (long[] rows : rowsByName.values()) {
            Tensor d = pieces.get(i);
            pieces.set(i++, d == null ? backend.zeros(rows.length, rowOut) : d.reshape(rows.length, rowOut));
        }
        Tensor grouped = pieces.size() == 1 ? pieces.get(0) : backend.concat(pieces, 0);
        Tensor ordered = grouped.gather(backend.fromLongs(inverse, batch)).reshape(outShape);
        return base.add(ordered);
    }

    /** Rows {@code rows} of {@code t} along the first axis. */
    private static Tensor rows(Tensor t, long[] rows) {
        long[] shape = t.shape();
        long batch = shape[0];
        if (rows.length == batch) {
            boolean identity = true;
            for (int i = 0; i < rows.length && identity; i++) {
                identity = rows[i] == i;
            }
            if (identity) {
                return t;
            }
        }
        shape[0] = rows.length;
        return t.reshape(batch, t.numel() / batch).gather(t.backend().fromLongs(rows, rows.length)).reshape(shape);
    }
}
