package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.lora.LoraConfig;
import org.peft4j.testkit.Reference;
import org.peft4j.testkit.TinyMlp;

/**
 * Eight threads serve while another loads, sets, disables and deletes adapters: no exception, and
 * every answer is the output of one consistent adapter state.
 */
class ServingWhileSwappingTest {
    private static final int IN = 8;
    private static final int THREADS = 8;

    @TempDir
    Path dir;

    private static LoraConfig random(int r) {
        return LoraConfig.builder().r(r).loraAlpha(2 * r).targetModules("fc1", "fc2")
                .initLoraWeights(LoraConfig.InitLoraWeights.RANDOM).build();
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void everyAnswerComesFromOneConsistentAdapterState(String name) throws Exception {
        try (Backend b = Peft.backend(name)) {
            float[] x = Reference.randoms(4 * IN, 17);
            // adapter b is saved by a first model, so the swapper can load it from disk
            PeftModel source = new PeftModel(new TinyMlp(b, IN, 16, 2, 1), Peft.registry(), 9);
            source.addAdapter("b", random(2));
            source.save(dir, "b");

            PeftModel m = new PeftModel(new TinyMlp(b, IN, 16, 2, 1), Peft.registry(), 3);
            m.addAdapter("a", random(4));
            TinyMlp net = (TinyMlp) m.model();
            List<float[]> states = new ArrayList<>();
            states.add(forward(b, net, x)); // a
            m.loadAdapter("b", AdapterFiles.adapterDir(dir, "b"));
            m.setAdapter("b");
            states.add(forward(b, net, x)); // b
            try (var off = m.disableAdapter()) {
                states.add(forward(b, net, x)); // base
            }
            m.setAdapter("a");
            m.deleteAdapter("b");

            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong answers = new AtomicLong();
            AtomicLong swaps = new AtomicLong();
            ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
            CountDownLatch started = new CountDownLatch(THREADS);
            ExecutorService pool = Executors.newFixedThreadPool(THREADS + 1);
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                futures.add(pool.submit(() -> {
                    started.countDown();
                    while (!stop.get()) {
                        float[] y = m.infer(() -> forward(b, net, x));
                        if (states.stream().noneMatch(s -> Reference.maxAbsDiff(s, y) < 1e-5f)) {
                            wrong.add(java.util.Arrays.toString(y));
                        }
                        answers.incrementAndGet();
                    }
                    return null;
                }));
            }
            futures.add(pool.submit(() -> {
                started.await();
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
                while (System.nanoTime() < end) {
                    m.loadAdapter("b", AdapterFiles.adapterDir(dir, "b"));
                    m.setAdapter("b");
                    try (var off = m.disableAdapter()) {
                        Thread.onSpinWait();
                    }
                    m.setAdapter("a");
                    m.merge("a");
                    m.unmerge("a");
                    m.deleteAdapter("b");
                    swaps.incrementAndGet();
                }
                stop.set(true);
                return null;
            }));
            for (Future<?> f : futures) {
                f.get(60, TimeUnit.SECONDS); // rethrows any exception of a thread
            }
            pool.shutdown();
            assertThat(wrong).as("answers matching no adapter state").isEmpty();
            assertThat(swaps.get()).isGreaterThan(3);
            assertThat(answers.get()).isGreaterThan(THREADS * 10L);
        }
    }

    private static float[] forward(Backend b, TinyMlp net, float[] x) {
        try (Scope s = b.scope()) {
            return net.forward(b.fromFloats(x, 4, IN)).toFloatArray();
        }
    }
}
