package org.peft4j.models;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;
import org.peft4j.core.io.HostTensor;
import org.peft4j.api.nn.Init;

/**
 * Pretrained weights by Hugging Face name, handed out to model constructors with shape checks.
 * Without weights (random initialisation for tests) it draws from a seeded {@link Init}.
 */
public final class WeightMap {
    private final Backend backend;
    private final Map<String, HostTensor> weights;
    private final Init random;
    private final Set<String> used = new TreeSet<>();
    private final String prefix;

    private WeightMap(Backend backend, Map<String, HostTensor> weights, Init random, String prefix) {
        this.backend = backend;
        this.weights = weights;
        this.random = random;
        this.prefix = prefix;
    }

    /** Pretrained weights; {@code prefix} is prepended to every requested name (for example {@code "bert."}). */
    public static WeightMap of(Backend backend, Map<String, HostTensor> weights, String prefix) {
        return new WeightMap(backend, new LinkedHashMap<>(weights), null, prefix);
    }

    /** Random weights (normal, std 0.02, as BERT's initializer), for tests. */
    public static WeightMap random(Backend backend, long seed) {
        return new WeightMap(backend, null, new Init(seed), "");
    }

    public Backend backend() {
        return backend;
    }

    /** The tensor called {@code name}, which must have {@code shape}. */
    public Tensor take(String name, long... shape) {
        if (weights == null) {
            boolean norm = name.toLowerCase(java.util.Locale.ROOT).endsWith("norm.weight");
            boolean bias = name.endsWith(".bias");
            return norm ? backend.full(1f, shape) : bias ? backend.zeros(shape) : random.normal(backend, 0f, 0.02f, shape);
        }
        String key = prefix + name;
        HostTensor t = weights.get(key);
        if (t == null) {
            throw new PeftException("weight '" + key + "' is missing; the file has " + weights.size()
                    + " tensors, for example " + weights.keySet().stream().limit(5).toList());
        }
        if (!Arrays.equals(t.shape(), shape)) {
            throw new PeftException("weight '" + key + "' has shape " + Arrays.toString(t.shape()) + ", the model needs "
                    + Arrays.toString(shape));
        }
        used.add(key);
        return t.to(backend);
    }

    /**
     * A linear weight stored as GPT-2's {@code Conv1D} does, (in, out), returned in our layout
     * (out, in).
     */
    public Tensor takeTransposed(String name, long in, long out) {
        if (weights == null) {
            return take(name, out, in);
        }
        HostTensor t = weights.get(prefix + name);
        if (t == null || !Arrays.equals(t.shape(), new long[] {in, out})) {
            return take(name, in, out); // names the problem
        }
        used.add(prefix + name);
        float[] src = t.data();
        float[] dst = new float[src.length];
        for (int i = 0; i < in; i++) {
            for (int o = 0; o < out; o++) {
                dst[(int) (o * in + i)] = src[(int) (i * out + o)];
            }
        }
        return new HostTensor(new long[] {out, in}, dst).to(backend);
    }

    /** Whether a tensor called {@code name} exists (always false for random weights). */
    public boolean has(String name) {
        return weights != null && weights.containsKey(prefix + name);
    }

    /** Names never taken: weights the model did not use. */
    public Set<String> unused() {
        if (weights == null) {
            return Set.of();
        }
        Set<String> out = new TreeSet<>(weights.keySet());
        out.removeAll(used);
        return out;
    }
}
