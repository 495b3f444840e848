package org.peft4j.examples.cli;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * Training progress on stderr: a live bar redrawn in place on a terminal, plain periodic lines
 * otherwise (CI logs, pipes).
 */
final class Progress {
    private final PrintWriter err;
    private final boolean terminal = System.console() != null;
    private final long start = System.nanoTime();
    private double emaLoss = Double.NaN;
    private long lastPrint;

    Progress(PrintWriter err) {
        this.err = err;
    }

    void line(String text) {
        err.println(text);
        err.flush();
    }

    void step(int step, int total, float loss, float lr, long examples) {
        emaLoss = Double.isNaN(emaLoss) ? loss : 0.9 * emaLoss + 0.1 * loss;
        double elapsed = (System.nanoTime() - start) / 1e9;
        double eta = elapsed / step * (total - step);
        String status = String.format(Locale.ROOT, "step %d/%d  loss %.4f  lr %.2e  %.1f ex/s  elapsed %s  eta %s",
                step, total, emaLoss, lr, examples / elapsed, time(elapsed), time(eta));
        if (terminal) {
            int width = 30;
            int filled = (int) ((long) width * step / total);
            err.print("\r[" + "=".repeat(filled) + " ".repeat(width - filled) + "] " + status);
            err.flush();
        } else {
            long now = System.nanoTime();
            if (step == 1 || step == total || now - lastPrint > 10_000_000_000L) {
                lastPrint = now;
                line(status);
            }
        }
    }

    void done() {
        if (terminal) {
            err.println();
            err.flush();
        }
    }

    private static String time(double seconds) {
        long s = Math.round(seconds);
        return String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
