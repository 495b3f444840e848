package org.peft4j.backend.nd4j;

import java.io.PrintStream;
import java.nio.charset.Charset;
import java.util.function.Supplier;

/**
 * Silences the {@code "Added differentiated op ..."} lines SameDiff 1.0.0-M2.1 prints with
 * {@code System.out.println} (unconditionally, once per op, every time a gradient function is
 * built). ND4J has no switch for them, so while a gradient is computed the calling thread is
 * marked and a thin {@link PrintStream} in front of the original {@code System.out} drops exactly
 * those lines from that thread; all other output, and all output of other threads, passes through
 * unchanged.
 *
 * <p>Set the system property {@value #PROPERTY} to {@code true} to keep ND4J's lines.
 */
final class SameDiffStdout {
    /** System property that, when {@code true}, leaves {@code System.out} alone. */
    static final String PROPERTY = "peft4j.nd4j.samediffStdout";
    private static final String PREFIX = "Added differentiated op ";
    private static final ThreadLocal<Boolean> QUIET = new ThreadLocal<>();

    private SameDiffStdout() {
    }

    /** Runs {@code action} with SameDiff's differentiation lines from this thread dropped. */
    static <T> T quietly(Supplier<T> action) {
        if (Boolean.getBoolean(PROPERTY)) {
            return action.get();
        }
        install();
        Boolean previous = QUIET.get();
        QUIET.set(Boolean.TRUE);
        try {
            return action.get();
        } finally {
            if (previous == null) {
                QUIET.remove();
            } else {
                QUIET.set(previous);
            }
        }
    }

    private static synchronized void install() {
        PrintStream current = System.out;
        if (!(current instanceof Filter)) {
            System.setOut(new Filter(current));
        }
    }

    /** Passes everything to the original stream except SameDiff's lines on quiet threads. */
    private static final class Filter extends PrintStream {
        Filter(PrintStream original) {
            super(original, true, encodingOf());
        }

        /** The encoding the JVM chose for standard output (Java 17 has no getter on PrintStream). */
        private static Charset encodingOf() {
            String name = System.getProperty("stdout.encoding", System.getProperty("sun.stdout.encoding"));
            try {
                return name == null ? Charset.defaultCharset() : Charset.forName(name);
            } catch (RuntimeException e) {
                return Charset.defaultCharset();
            }
        }

        @Override
        public void println(String x) {
            if (x != null && x.startsWith(PREFIX) && QUIET.get() != null) {
                return;
            }
            super.println(x);
        }
    }
}
