package org.peft4j.backend.nd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.ServiceLoader;
import java.util.concurrent.atomic.AtomicReference;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.BackendProvider;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.train.AdamW;

/** Scopes, keep/release, backend close, and the absence of leaks over many training steps. */
class Nd4jMemoryTest {

    @Test
    void providerIsRegisteredAndDescribesTheEngine() {
        BackendProvider found = null;
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            if (p.name().equals("nd4j")) {
                found = p;
            }
        }
        assertThat(found).isInstanceOf(Nd4jBackendProvider.class);
        assertThat(found.description()).contains("ND4J 1.0.0-M2.1").contains("MKL").contains("OpenBLAS").contains("SameDiff");
        try (Backend b = found.create()) {
            assertThat(b.name()).isEqualTo("nd4j");
        }
    }

    @Test
    void scopesReleaseTheirTensorsAndKeepMovesThemOut() {
        try (Nd4jBackend backend = new Nd4jBackend()) {
            Tensor outside = backend.full(2f, 3);
            Tensor inside;
            Tensor nested;
            Tensor kept;
            try (Scope outer = backend.scope()) {
                inside = outside.mul(2f);
                try (Scope inner = backend.scope()) {
                    nested = inside.add(1f);
                    kept = backend.keep(nested.mul(10f));
                }
                assertThatThrownBy(nested::toFloatArray).isInstanceOf(PeftException.class)
                        .hasMessageContaining("released");
                assertThat(inside.toFloatArray()).containsExactly(4, 4, 4);
            }
            assertThatThrownBy(inside::toFloatArray).isInstanceOf(PeftException.class);
            assertThatThrownBy(() -> inside.add(1f)).isInstanceOf(PeftException.class);
            assertThat(kept.toFloatArray()).containsExactly(50, 50, 50);
            assertThat(outside.toFloatArray()).containsExactly(2, 2, 2);
            assertThat(backend.liveRootTensors()).isEqualTo(2);
            backend.release(kept);
            assertThatThrownBy(kept::toFloatArray).isInstanceOf(PeftException.class);
            backend.release(kept); // idempotent
            assertThat(backend.liveRootTensors()).isEqualTo(1);
            // metadata stays readable after release
            assertThat(kept.shape()).containsExactly(3);
        }
    }

    /**
     * A reshape of a dense tensor (and, outside gradients, a permutation) shares its buffer instead
     * of copying it, and the buffer lives as long as either tensor: released source, live reshape
     * (in a closed scope, or kept) still reads; the buffer is freed once both are released.
     */
    @Test
    void aReshapeSharesItsSourceBufferUntilBothAreReleased() {
        try (Nd4jBackend backend = new Nd4jBackend()) {
            float[] v = {1, 2, 3, 4, 5, 6};
            Tensor a = backend.fromFloats(v, 2, 3);
            Tensor r = a.reshape(3, 2);
            org.nd4j.linalg.api.ndarray.INDArray buffer = backend.unwrap(a).array();
            assertThat(backend.unwrap(r).array().data().address()).as("no copy").isEqualTo(buffer.data().address());
            backend.release(a);
            assertThatThrownBy(a::toFloatArray).isInstanceOf(PeftException.class);
            assertThat(buffer.wasClosed()).isFalse();
            assertThat(r.toFloatArray()).containsExactly(v);
            try (Scope s = backend.scope()) {
                assertThat(r.reshape(6).add(1f).toFloatArray()).containsExactly(2, 3, 4, 5, 6, 7);
            }
            backend.release(r);
            assertThat(buffer.wasClosed()).as("freed with the last tensor sharing it").isTrue();

            Tensor kept;
            org.nd4j.linalg.api.ndarray.INDArray scoped;
            try (Scope s = backend.scope()) {
                Tensor x = backend.fromFloats(v, 6).mul(2f);
                scoped = backend.unwrap(x).array();
                kept = backend.keep(x.reshape(2, 3).reshape(3, 2));
            }
            assertThat(scoped.wasClosed()).isFalse();
            assertThat(kept.toFloatArray()).containsExactly(2, 4, 6, 8, 10, 12);
            backend.release(kept);
            assertThat(scoped.wasClosed()).isTrue();
            // a permutation is a strided view of its source; what reads it sees its elements
            try (Scope s = backend.scope()) {
                Tensor src = backend.fromFloats(v, 2, 3);
                Tensor p = src.permute(1, 0);
                assertThat(backend.unwrap(p).array().data().address()).as("no copy")
                        .isEqualTo(backend.unwrap(src).array().data().address());
                backend.release(src);
                assertThat(p.toFloatArray()).containsExactly(1, 4, 2, 5, 3, 6);
                assertThat(p.add(1f).toFloatArray()).containsExactly(2, 5, 3, 6, 4, 7);
                assertThat(p.reshape(6).toFloatArray()).containsExactly(1, 4, 2, 5, 3, 6);
                assertThat(p.matmul(backend.fromFloats(new float[] {1, 1}, 2, 1)).toFloatArray())
                        .containsExactly(5, 7, 9);
            }
            // a transposed (non-dense) tensor's reshape is a copy of its own
            Tensor t = backend.fromFloats(v, 2, 3).transposeLast2().reshape(6);
            assertThat(t.toFloatArray()).containsExactly(1, 4, 2, 5, 3, 6);
        }
    }

    /**
     * Operation outputs get memory that is not zeroed first (ND4J's own buffers always are) and is
     * freed when the tensor is released; what must be zero still is, even on reused memory.
     */
    @Test
    void operationOutputsSkipZeroingAndAreFreedOnRelease() {
        try (Nd4jBackend backend = new Nd4jBackend()) {
            int rows = 64;
            int cols = 128;
            for (int i = 0; i < 20; i++) {
                Tensor big = backend.full(7f, rows, cols).mul(3f);
                org.nd4j.linalg.api.buffer.DataBuffer data = backend.unwrap(big).array().data();
                assertThat(UnzeroedBuffers.isUnzeroed(data)).isTrue();
                assertThat(big.toFloatArray()).containsOnly(21f);
                long before = Pointer.totalBytes();
                backend.release(big);
                assertThat(before - Pointer.totalBytes()).as("freed at release").isEqualTo(4L * rows * cols);
                assertThat(backend.zeros(rows, cols).toFloatArray()).containsOnly(0f);
                try (Scope s = backend.scope()) {
                    assertThat(backend.full(2f, rows, cols).mul(0f).add(1f).toFloatArray()).containsOnly(1f);
                }
            }
            try (Scope s = backend.scope()) {
                Tensor small = backend.full(1f, 8).mul(2f);
                assertThat(UnzeroedBuffers.isUnzeroed(backend.unwrap(small).array().data()))
                        .as("small buffers stay ND4J's").isFalse();
            }
        }
    }

    @Test
    void closingAnOuterScopeFirstClosesTheScopesNestedInIt() {
        try (Nd4jBackend backend = new Nd4jBackend()) {
            Scope outer = backend.scope();
            Scope inner = backend.scope();
            Tensor a = backend.full(1f, 2);
            outer.close();
            assertThatThrownBy(a::toFloatArray).isInstanceOf(PeftException.class);
            inner.close(); // already closed: no-op
            outer.close();
            Tensor after = backend.full(1f, 2); // the stack is empty again: owned by the backend
            assertThat(backend.liveRootTensors()).isEqualTo(1);
            backend.release(after);
        }
    }

    @Test
    void scopesAreThreadLocal() throws Exception {
        try (Nd4jBackend backend = new Nd4jBackend()) {
            AtomicReference<Tensor> fromOtherThread = new AtomicReference<>();
            try (Scope s = backend.scope()) {
                Thread other = new Thread(() -> fromOtherThread.set(backend.full(3f, 2)));
                other.start();
                other.join();
            }
            // made while a scope was open on another thread: the backend owns it
            assertThat(fromOtherThread.get().toFloatArray()).containsExactly(3, 3);
            backend.release(fromOtherThread.get());
        }
    }

    @Test
    void closingTheBackendReleasesEverything() {
        Nd4jBackend backend = new Nd4jBackend();
        Tensor root = backend.full(1f, 2);
        Scope open = backend.scope();
        Tensor scoped = backend.full(1f, 2);
        backend.close();
        assertThatThrownBy(root::toFloatArray).isInstanceOf(PeftException.class);
        assertThatThrownBy(scoped::toFloatArray).isInstanceOf(PeftException.class);
        open.close();
        assertThatThrownBy(() -> backend.full(1f, 2)).isInstanceOf(PeftException.class).hasMessageContaining("closed");
    }

    @Test
    void tensorsFromAnotherBackendAreRejected() {
        try (Nd4jBackend a = new Nd4jBackend(); Nd4jBackend b = new Nd4jBackend()) {
            Tensor x = a.full(1f, 2);
            Tensor y = b.full(1f, 2);
            assertThatThrownBy(() -> x.add(y)).isInstanceOf(PeftException.class).hasMessageContaining("another instance");
        }
    }

    /** With fresh graphs every step (the default) and with kept graphs reused across steps. */
    @ParameterizedTest(name = "kept graphs: {0}")
    @ValueSource(ints = {0, 4})
    void thousandTrainingStepsInScopesDoNotLeak(int keptGraphs) {
        try (Nd4jBackend backend = new Nd4jBackend(keptGraphs, 0.5, true, true)) {
            Parameter w = new Parameter(backend.fromFloats(Reference.randoms(32 * 16, 1), 32, 16));
            Parameter bias = new Parameter(backend.zeros(16));
            Parameter table = new Parameter(backend.fromFloats(Reference.randoms(10 * 32, 2), 10, 32));
            Tensor ids = backend.keep(backend.fromLongs(new long[] {1, 2, 3, 1, 5, 9, 9, 0}, 2, 4));
            Tensor target = backend.keep(backend.randomUniform(2, 4, 16));
            AdamW opt = new AdamW(List.of(w, bias, table), AdamW.Options.DEFAULT);
            Runnable step = () -> {
                try (Scope s = backend.scope()) {
                    Gradients g = backend.gradients(opt.parameters(), () -> table.value().gather(ids)
                            .linear(w.value().transposeLast2(), bias.value()).gelu().softmax(-1).sub(target)
                            .square().mean(false));
                    opt.step(g, 1e-3f);
                }
            };
            for (int i = 0; i < 100; i++) {
                step.run();
            }
            int rootTensors = backend.liveRootTensors();
            settle();
            long physical = Pointer.physicalBytes();
            long total = Pointer.totalBytes();
            long heap = usedHeap();
            long t0 = System.nanoTime();
            for (int i = 0; i < 1000; i++) {
                step.run();
            }
            double msPerStep = (System.nanoTime() - t0) / 1e6 / 1000;
            settle();
            long physicalGrowth = Pointer.physicalBytes() - physical;
            long totalGrowth = Pointer.totalBytes() - total;
            long heapGrowth = usedHeap() - heap;
            System.out.printf("nd4j 1000 steps, %d kept graphs: %.2f ms/step; growth: physical %d KB, JavaCPP total %d KB,"
                    + " heap %d KB%n", keptGraphs, msPerStep, physicalGrowth >> 10, totalGrowth >> 10, heapGrowth >> 10);
            assertThat(backend.liveRootTensors()).as("tensors held by the backend").isEqualTo(rootTensors);
            assertThat(totalGrowth).as("JavaCPP-tracked native bytes growth").isLessThan(16L << 20);
            assertThat(physicalGrowth).as("physical memory growth").isLessThan(128L << 20);
            assertThat(heapGrowth).as("Java heap growth").isLessThan(64L << 20);
            opt.release();
        }
    }

    private static void settle() {
        for (int i = 0; i < 3; i++) {
            System.gc();
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static long usedHeap() {
        Runtime r = Runtime.getRuntime();
        return r.totalMemory() - r.freeMemory();
    }
}
