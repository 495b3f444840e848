package org.peft4j.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The settings every peft4j benchmark shares (JMH reads them from the superclass): shared state,
 * average time in milliseconds, one fork, 3 warm-up and 8 measured iterations of 3 s. A benchmark
 * class annotates only what it does differently.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 8, time = 3)
@Fork(1)
public abstract class BenchDefaults {

    /** Names the machine beside every run: CPU model, AVX-512/AMX, cores and thread settings. */
    @org.openjdk.jmh.annotations.Setup(org.openjdk.jmh.annotations.Level.Trial)
    public void describeMachine() {
        System.err.println("# machine: " + Machine.describe());
    }
}
