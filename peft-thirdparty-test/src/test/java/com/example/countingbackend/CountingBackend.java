package com.example.countingbackend;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;

/**
 * A third party's backend: an instrumented engine that counts the tensors it creates and the
 * gradient passes it runs, computing on another backend it wraps. Written against peft-api only.
 */
public final class CountingBackend implements Backend {
    private final Backend engine;
    private final AtomicLong created = new AtomicLong();
    private final AtomicLong gradientPasses = new AtomicLong();

    CountingBackend(Backend engine) {
        this.engine = engine;
    }

    /** Tensors made through this backend's constructors so far. */
    public long created() {
        return created.get();
    }

    /** Gradient computations run so far. */
    public long gradientPasses() {
        return gradientPasses.get();
    }

    private Tensor count(Tensor t) {
        created.incrementAndGet();
        return t;
    }

    @Override
    public String name() {
        return CountingBackendProvider.NAME;
    }

    @Override
    public Tensor fromFloats(float[] data, long... shape) {
        return count(engine.fromFloats(data, shape));
    }

    @Override
    public Tensor fromLongs(long[] data, long... shape) {
        return count(engine.fromLongs(data, shape));
    }

    @Override
    public Tensor full(float value, long... shape) {
        return count(engine.full(value, shape));
    }

    @Override
    public Tensor randomUniform(long... shape) {
        return count(engine.randomUniform(shape));
    }

    @Override
    public void seed(long seed) {
        engine.seed(seed);
    }

    @Override
    public Tensor concat(List<Tensor> tensors, int axis) {
        return count(engine.concat(tensors, axis));
    }

    @Override
    public Scope scope() {
        return engine.scope();
    }

    @Override
    public Tensor keep(Tensor tensor) {
        return engine.keep(tensor);
    }

    @Override
    public void release(Tensor tensor) {
        engine.release(tensor);
    }

    @Override
    public Gradients gradients(List<Parameter> params, Supplier<Tensor> loss) {
        gradientPasses.incrementAndGet();
        return engine.gradients(params, loss);
    }

    @Override
    public void close() {
        engine.close();
    }
}
