package org.peft4j.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * The headline speed figures in one command, short runs, one JSON object with the ratios, so
 * anyone can re-measure on their machine ({@code scripts/bench-report.sh}): encoder forward vs
 * ONNX Runtime, LoRA unmerged and merged vs base, LoRA vs full training step, mixed vs sequential
 * adapters at 16 tokens per row (and the same rows on the base model, the bound), ND4J vs DJL
 * forward and LoRA step. About 6 minutes on 2 cores; the JMH benchmarks themselves give the
 * careful figures. ND4J rows run with {@code OMP_WAIT_POLICY=PASSIVE} and a 2 GB heap (6 GB
 * off-heap), as {@code ./peft} runs ND4J.
 */
public final class SpeedReport {
    private SpeedReport() {
    }

    public static void main(String[] args) throws RunnerException {
        Map<String, Double> ms = new LinkedHashMap<>();
        run(ms, EncoderForwardBench.class, "forward", Mode.AverageTime, 2, 3, Map.of("backend", "djl"),
                r -> "forward_djl_" + r.getParams().getParam("variant"));
        run(ms, EncoderForwardBench.class, "forward", Mode.AverageTime, 2, 3,
                Map.of("backend", "nd4j", "variant", "base"), r -> "forward_nd4j_base");
        run(ms, OrtForwardBench.class, "forward", Mode.AverageTime, 2, 3, Map.of(), r -> "forward_onnxruntime");
        run(ms, TrainStepBench.class, "step", Mode.AverageTime, 3, 3, Map.of("backend", "djl"),
                r -> "train_step_djl_" + r.getParams().getParam("method"));
        // Timed warm, as DJL's: a single shot after one warm-up timed steps 2 and 3, which run
        // before C2 has compiled SameDiff's session code (3.5-4 s against ~1.6 s warm); a warm
        // ND4J step still takes ~3.3 s now and then, so five are averaged.
        run(ms, TrainStepBench.class, "step", Mode.AverageTime, 6, 5, Map.of("backend", "nd4j", "method", "lora"),
                r -> "train_step_nd4j_lora");
        run(ms, MixedBatchBench.class, "(mixed|sequential|baseRows)$", Mode.AverageTime, 2, 3,
                Map.of("backend", "djl", "tokens", "16"), r -> "adapters8_16tokens_" + r.getParams().getBenchmark()
                        .substring(r.getParams().getBenchmark().lastIndexOf('.') + 1));
        Map<String, Double> ratios = new LinkedHashMap<>();
        ratios.put("encoder_djl_over_onnxruntime", ms.get("forward_djl_base") / ms.get("forward_onnxruntime"));
        ratios.put("lora_unmerged_over_base", ms.get("forward_djl_lora") / ms.get("forward_djl_base"));
        ratios.put("lora_merged_over_base", ms.get("forward_djl_merged") / ms.get("forward_djl_base"));
        ratios.put("lora_step_over_full_step", ms.get("train_step_djl_lora") / ms.get("train_step_djl_full"));
        ratios.put("sequential_over_mixed_16tokens", ms.get("adapters8_16tokens_sequential")
                / ms.get("adapters8_16tokens_mixed"));
        // The most batching across adapters can gain: the same rows with no adapter at all.
        ratios.put("sequential_over_base_16tokens", ms.get("adapters8_16tokens_sequential")
                / ms.get("adapters8_16tokens_baseRows"));
        ratios.put("nd4j_over_djl_forward", ms.get("forward_nd4j_base") / ms.get("forward_djl_base"));
        ratios.put("nd4j_over_djl_lora_step", ms.get("train_step_nd4j_lora") / ms.get("train_step_djl_lora"));
        StringBuilder json = new StringBuilder("{\"machine\": \"" + Machine.describe().replace("\"", "'") + "\"");
        String wait = System.getenv("OMP_WAIT_POLICY");
        json.append(", \"nd4j_omp_wait_policy\": \"").append(wait == null ? "PASSIVE" : wait.replace("\"", "'")).append('"');
        String timeout = System.getenv("OPENBLAS_THREAD_TIMEOUT");
        json.append(", \"nd4j_openblas_thread_timeout\": \"").append(timeout == null ? "4" : timeout.replace("\"", "'"))
                .append('"');
        ms.forEach((k, v) -> json.append(String.format(Locale.ROOT, ", \"%s_ms\": %.1f", k, v)));
        ratios.forEach((k, v) -> json.append(String.format(Locale.ROOT, ", \"%s\": %.2f", k, v)));
        System.out.println(json.append('}'));
    }

    /**
     * Runs the forked JVM with {@code OMP_WAIT_POLICY=PASSIVE} and {@code OPENBLAS_THREAD_TIMEOUT=4},
     * as {@code ./peft} runs ND4J (its OpenMP threads and OpenBLAS's worker otherwise spin while
     * they wait; PyTorch is slower with the first, so DJL rows keep the default), unless the caller
     * set them. JMH sets no environment, so the fork goes through a two-line launcher script.
     */
    private static void passiveOpenMp(ChainedOptionsBuilder o) {
        try {
            Path script = Files.createTempFile("peft-bench-java", ".sh");
            script.toFile().deleteOnExit();
            Path jvm = Path.of(System.getProperty("java.home"), "bin", "java");
            Files.writeString(script, "#!/bin/sh\nOMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} "
                    + "OPENBLAS_THREAD_TIMEOUT=${OPENBLAS_THREAD_TIMEOUT:-4} exec '" + jvm + "' \"$@\"\n");
            script.toFile().setExecutable(true);
            o.jvm(script.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the ND4J fork's launcher script", e);
        }
    }

    private static void run(Map<String, Double> out, Class<?> bench, String method, Mode mode, int warmups,
            int iterations, Map<String, String> params, java.util.function.Function<RunResult, String> name)
            throws RunnerException {
        ChainedOptionsBuilder o = new OptionsBuilder().include(bench.getSimpleName() + "." + method).forks(1)
                .mode(mode).timeUnit(TimeUnit.MILLISECONDS).warmupIterations(warmups)
                .warmupTime(TimeValue.seconds(2)).measurementIterations(iterations)
                .measurementTime(TimeValue.seconds(2)).verbosity(VerboseMode.SILENT);
        params.forEach(o::param);
        if ("nd4j".equals(params.get("backend"))) {
            passiveOpenMp(o);
            // the heap ./peft gives ND4J: its arrays live off-heap, and a large heap only grows with garbage
            o.jvmArgsAppend("-Xmx2g", "-Dorg.bytedeco.javacpp.maxbytes=6g");
        }
        Collection<RunResult> results = new Runner(o.build()).run();
        for (RunResult r : results) {
            out.put(name.apply(r), r.getPrimaryResult().getScore());
            System.err.printf(Locale.ROOT, "%-40s %10.1f ms%n", name.apply(r), r.getPrimaryResult().getScore());
        }
    }
}
