package org.peft4j.serve;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.DoubleAdder;

/**
 * The server's counters, rendered in Prometheus' text exposition format (version 0.0.4) for
 * {@code GET /metrics}: requests by endpoint, model and status, a request latency histogram, a
 * batch-size histogram, queue depth, resident adapters, loads and evictions.
 */
final class Metrics {
    private static final double[] LATENCY_BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    private static final double[] ROW_BUCKETS = {1, 2, 4, 8, 16, 32, 64, 128, 256};
    /** Request counts are kept per model only for this many models; the rest count as "other". */
    private static final int MAX_MODEL_LABELS = 256;

    private final Map<String, AtomicLong> requests = new ConcurrentHashMap<>();
    private final Histogram latency = new Histogram(LATENCY_BUCKETS);
    private final Histogram batchRows = new Histogram(ROW_BUCKETS);
    private final Histogram forward = new Histogram(LATENCY_BUCKETS);
    private final AtomicLong queueDepth = new AtomicLong();
    private final AtomicLong adaptersLoaded = new AtomicLong();
    private final AtomicLong evictions = new AtomicLong();
    private final AtomicLong loads = new AtomicLong();

    void request(String endpoint, String model, int status, double seconds) {
        String m = model == null ? "" : model;
        String key = "endpoint=\"" + escape(endpoint) + "\",model=\"" + escape(m) + "\",status=\"" + status + "\"";
        AtomicLong counter = requests.get(key);
        if (counter == null) {
            if (requests.size() >= MAX_MODEL_LABELS * 8) {
                key = "endpoint=\"" + escape(endpoint) + "\",model=\"other\",status=\"" + status + "\"";
            }
            counter = requests.computeIfAbsent(key, k -> new AtomicLong());
        }
        counter.incrementAndGet();
        latency.observe(seconds);
    }

    void batch(int rows, double seconds) {
        batchRows.observe(rows);
        forward.observe(seconds);
    }

    void queueDepth(long rows) {
        queueDepth.set(rows);
    }

    void adaptersLoaded(int n) {
        adaptersLoaded.set(n);
    }

    void eviction() {
        evictions.incrementAndGet();
    }

    void adapterLoad() {
        loads.incrementAndGet();
    }

    /** All metrics in Prometheus' text format. */
    String render() {
        StringBuilder out = new StringBuilder();
        out.append("# HELP peft_requests_total HTTP requests by endpoint, model and status.\n");
        out.append("# TYPE peft_requests_total counter\n");
        new TreeMap<>(requests).forEach((labels, n) -> out.append("peft_requests_total{").append(labels).append("} ")
                .append(n.get()).append('\n'));
        latency.render(out, "peft_request_duration_seconds", "Time from request read to response written.");
        batchRows.render(out, "peft_batch_rows", "Rows per forward pass.");
        forward.render(out, "peft_forward_seconds", "Time of one forward pass (tokenizing to results).");
        gauge(out, "peft_queue_depth", "Rows waiting for a forward pass.", queueDepth.get());
        gauge(out, "peft_adapters_loaded", "Adapters resident in memory.", adaptersLoaded.get());
        counter(out, "peft_adapter_loads_total", "Adapter folders loaded.", loads.get());
        counter(out, "peft_adapter_evictions_total", "Adapters evicted to stay within --max-loaded.", evictions.get());
        return out.toString();
    }

    private static void gauge(StringBuilder out, String name, String help, long value) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(" gauge\n").append(name).append(' ').append(value).append('\n');
    }

    private static void counter(StringBuilder out, String name, String help, long value) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(" counter\n").append(name).append(' ').append(value).append('\n');
    }

    private static String escape(String label) {
        return label.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    /** A cumulative histogram with fixed upper bounds. */
    private static final class Histogram {
        private final double[] bounds;
        private final AtomicLongArray counts;
        private final DoubleAdder sum = new DoubleAdder();
        private final AtomicLong total = new AtomicLong();

        Histogram(double[] bounds) {
            this.bounds = bounds;
            this.counts = new AtomicLongArray(bounds.length);
        }

        void observe(double value) {
            for (int i = 0; i < bounds.length; i++) {
                if (value <= bounds[i]) {
                    counts.incrementAndGet(i);
                    break;
                }
            }
            sum.add(value);
            total.incrementAndGet();
        }

        void render(StringBuilder out, String name, String help) {
            out.append("# HELP ").append(name).append(' ').append(help).append('\n');
            out.append("# TYPE ").append(name).append(" histogram\n");
            long cumulative = 0;
            for (int i = 0; i < bounds.length; i++) {
                cumulative += counts.get(i);
                out.append(name).append("_bucket{le=\"").append(bounds[i]).append("\"} ").append(cumulative).append('\n');
            }
            out.append(name).append("_bucket{le=\"+Inf\"} ").append(total.get()).append('\n');
            out.append(name).append("_sum ").append(sum.sum()).append('\n');
            out.append(name).append("_count ").append(total.get()).append('\n');
        }
    }
}
