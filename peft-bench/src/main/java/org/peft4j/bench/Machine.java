package org.peft4j.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** One line about the machine a figure comes from: figures differ between CPUs, so they travel together. */
final class Machine {
    private Machine() {
    }

    static String describe() {
        String model = "unknown CPU";
        String flags = "";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name") && model.equals("unknown CPU")) {
                    model = line.substring(line.indexOf(':') + 1).trim();
                } else if (line.startsWith("flags") && flags.isEmpty()) {
                    flags = " " + line.substring(line.indexOf(':') + 1).trim() + " ";
                }
            }
        } catch (IOException e) {
            // not Linux: the model stays unknown
        }
        List<String> isa = new ArrayList<>();
        for (String f : new String[] {"avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8"}) {
            if (flags.contains(" " + f + " ")) {
                isa.add(f);
            }
        }
        String omp = System.getenv("OMP_NUM_THREADS");
        String wait = System.getenv("OMP_WAIT_POLICY");
        return model + " [" + String.join(", ", isa) + "], " + Runtime.getRuntime().availableProcessors()
                + " cores, OMP_NUM_THREADS=" + (omp == null ? "unset" : omp) + ", OMP_WAIT_POLICY="
                + (wait == null ? "unset" : wait) + ", JDK " + Runtime.version();
    }
}
