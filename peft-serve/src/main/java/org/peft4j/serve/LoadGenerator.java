package org.peft4j.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.peft4j.api.PeftException;

/**
 * A closed-loop load generator for a {@link PeftServer} (or any server with its endpoints):
 * {@code concurrency} clients send single-text requests round-robin over {@code models} until
 * {@code requests} have been sent or {@code maxDuration} has passed, optionally while another
 * client replaces (hot-swaps) one adapter every few milliseconds. Bounded in count and time.
 */
public final class LoadGenerator {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Sentences of a few lengths, so batches mix short and long rows. */
    private static final List<String> TEXTS = List.of(
            "a gripping, beautifully shot film",
            "the plot never comes together and the jokes fall flat",
            "an utterly charming comedy with a sharp script and a cast that clearly enjoys itself",
            "dull",
            "it is the kind of movie you forget before you reach the parking lot",
            "warm, funny and surprisingly moving",
            "the director wastes a fine cast on a story that goes nowhere for two long hours",
            "one of the best thrillers of the year",
            "too long, too loud and too pleased with itself",
            "a small miracle of a film: quiet, precise and deeply felt from the first scene to the last",
            "the effects are impressive but the characters are paper thin",
            "i laughed all the way through",
            "a tedious exercise in style over substance",
            "smart, tender and never sentimental",
            "the second half drags badly, yet the ending almost makes up for it",
            "forgettable");

    private LoadGenerator() {
    }

    /**
     * What to send.
     *
     * @param url the server, for example {@code http://127.0.0.1:8080}
     * @param models the model names requests cycle through
     * @param endpoint {@code embeddings} or {@code classify}
     * @param concurrency clients sending at once
     * @param requests requests measured
     * @param warmup requests sent first and not measured (the client's own JIT warms up on them), 0 for none
     * @param maxDuration stop sending after this long even if requests remain
     * @param apiKey sent as a bearer token, or null
     * @param swapName an adapter to replace repeatedly while the load runs, or null
     * @param swapPath the folder (as the server resolves it) to load as {@code swapName}
     * @param swapEveryMs how often to replace it
     */
    public record Options(URI url, List<String> models, String endpoint, int concurrency, int requests, int warmup,
            Duration maxDuration, String apiKey, String swapName, String swapPath, int swapEveryMs) {
        public Options {
            if (url == null || !(url.getScheme() != null && url.getScheme().matches("https?")) || url.getHost() == null) {
                throw new PeftException("url must be http://HOST:PORT or https://..., got " + url);
            }
            if (models == null || models.isEmpty() || models.stream().anyMatch(m -> m == null || m.isBlank())) {
                throw new PeftException("models must name at least one model, got " + models);
            }
            models = List.copyOf(models);
            if (!List.of("embeddings", "classify").contains(endpoint)) {
                throw new PeftException("endpoint must be one of [embeddings, classify], got " + endpoint);
            }
            if (concurrency < 1 || concurrency > 1024) {
                throw new PeftException("concurrency must be in [1, 1024], got " + concurrency);
            }
            if (requests < 1 || requests > 10_000_000) {
                throw new PeftException("requests must be in [1, 10000000], got " + requests);
            }
            if (warmup < 0 || warmup > 10_000_000) {
                throw new PeftException("warm-up requests must be in [0, 10000000], got " + warmup);
            }
            if (maxDuration == null || maxDuration.isNegative() || maxDuration.isZero() || maxDuration.toHours() > 24) {
                throw new PeftException("max duration must be positive and at most 24 h, got " + maxDuration);
            }
            if (swapName != null && (swapPath == null || swapEveryMs < 1)) {
                throw new PeftException("a swap needs a folder and a positive interval, got " + swapPath + " every "
                        + swapEveryMs + " ms");
            }
        }
    }

    /**
     * What happened.
     *
     * @param requests requests answered or failed
     * @param errors requests without a 2xx answer (or with no answer)
     * @param throughputRps requests per second over the run
     * @param swaps adapter replacements answered (one still in flight when the load ends is not counted)
     * @param swapErrors replacements that failed
     * @param statuses answers by HTTP status (0: no answer)
     * @param firstErrors the first few error answers, for diagnosis
     */
    public record Result(long requests, long errors, double throughputRps, double p50Ms, double p90Ms, double p99Ms,
            double maxMs, long swaps, long swapErrors, Map<Integer, Long> statuses, List<String> firstErrors) {

        /** The result as one JSON line. */
        public String toJson() {
            ObjectNode o = JSON.createObjectNode().put("requests", requests).put("errors", errors)
                    .put("throughput_rps", round(throughputRps)).put("p50_ms", round(p50Ms)).put("p90_ms", round(p90Ms))
                    .put("p99_ms", round(p99Ms)).put("max_ms", round(maxMs)).put("swaps", swaps)
                    .put("swap_errors", swapErrors);
            ObjectNode s = o.putObject("statuses");
            statuses.forEach((k, v) -> s.put(Integer.toString(k), v));
            firstErrors.forEach(o.putArray("first_errors")::add);
            return o.toString();
        }

        private static double round(double v) {
            return Math.round(v * 100) / 100.0;
        }
    }

    /** Runs the load and returns its figures; never throws for failed requests (they count as errors). */
    public static Result run(Options o) throws InterruptedException {
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        long deadline = System.nanoTime() + o.maxDuration().toNanos();
        List<String> firstErrors = Collections.synchronizedList(new ArrayList<>());
        if (o.warmup() > 0) {
            clients(client, o, o.warmup(), deadline, firstErrors, (i, status, nanos) -> { });
        }
        long[] latencies = new long[o.requests()];
        Arrays.fill(latencies, -1);
        AtomicLong errors = new AtomicLong();
        Map<Integer, AtomicLong> statuses = Collections.synchronizedMap(new LinkedHashMap<>());
        AtomicLong swaps = new AtomicLong();
        AtomicLong swapErrors = new AtomicLong();
        Thread swapper = null;
        if (o.swapName() != null) {
            swapper = new Thread(() -> swapLoop(client, o, deadline, swaps, swapErrors, firstErrors), "loadtest-swap");
            swapper.setDaemon(true);
            swapper.start();
        }
        long start = System.nanoTime();
        clients(client, o, o.requests(), deadline, firstErrors, (i, status, nanos) -> {
            latencies[i] = nanos;
            statuses.computeIfAbsent(status, k -> new AtomicLong()).incrementAndGet();
            if (status / 100 != 2) {
                errors.incrementAndGet();
            }
        });
        double seconds = (System.nanoTime() - start) / 1e9;
        if (swapper != null) {
            swapper.interrupt();
            swapper.join(5000);
        }
        long[] done = Arrays.stream(latencies).filter(l -> l >= 0).sorted().toArray();
        Map<Integer, Long> byStatus = new LinkedHashMap<>();
        statuses.forEach((k, v) -> byStatus.put(k, v.get()));
        return new Result(done.length, errors.get(), done.length / seconds, percentile(done, 0.50),
                percentile(done, 0.90), percentile(done, 0.99), done.length == 0 ? 0 : done[done.length - 1] / 1e6,
                swaps.get(), swapErrors.get(), byStatus, List.copyOf(firstErrors));
    }

    /** What one request came to: its index, HTTP status (0: no answer) and time to the answer. */
    private interface Outcome {
        void record(int index, int status, long nanos);
    }

    /** {@code o.concurrency()} closed-loop clients sending {@code count} requests in all (or until {@code deadline}). */
    private static void clients(HttpClient client, Options o, int count, long deadline, List<String> firstErrors,
            Outcome outcome) throws InterruptedException {
        URI target = o.url().resolve("/v1/" + o.endpoint());
        AtomicInteger next = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(o.concurrency());
        for (int c = 0; c < o.concurrency(); c++) {
            pool.submit(() -> {
                for (int i; (i = next.getAndIncrement()) < count && System.nanoTime() < deadline; ) {
                    ObjectNode body = JSON.createObjectNode().put("model", o.models().get(i % o.models().size()))
                            .put("input", TEXTS.get(i % TEXTS.size()));
                    long t0 = System.nanoTime();
                    int status = send(client, target, o.apiKey(), body, firstErrors);
                    outcome.record(i, status, System.nanoTime() - t0);
                }
            });
        }
        pool.shutdown();
        long slack = TimeUnit.SECONDS.toNanos(330); // a request already sent may take the server's own timeout
        pool.awaitTermination(deadline - System.nanoTime() + slack, TimeUnit.NANOSECONDS);
        pool.shutdownNow();
    }

    private static void swapLoop(HttpClient client, Options o, long deadline, AtomicLong swaps, AtomicLong swapErrors,
            List<String> firstErrors) {
        URI adapters = o.url().resolve("/v1/adapters");
        ObjectNode body = JSON.createObjectNode().put("name", o.swapName()).put("path", o.swapPath());
        while (!Thread.currentThread().isInterrupted() && System.nanoTime() < deadline) {
            int status = send(client, adapters, o.apiKey(), body, firstErrors);
            if (Thread.currentThread().isInterrupted()) {
                return; // the load ended while this swap was in flight: it got no answer, and is no error
            }
            swaps.incrementAndGet();
            if (status / 100 != 2) {
                swapErrors.incrementAndGet();
            }
            try {
                Thread.sleep(o.swapEveryMs());
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private static int send(HttpClient client, URI uri, String apiKey, ObjectNode body, List<String> firstErrors) {
        HttpRequest.Builder req = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(320))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()));
        if (apiKey != null) {
            req.header("Authorization", "Bearer " + apiKey);
        }
        try {
            HttpResponse<String> r = client.send(req.build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() / 100 != 2 && firstErrors.size() < 5) {
                firstErrors.add(r.statusCode() + " " + r.body());
            }
            return r.statusCode();
        } catch (IOException e) {
            if (firstErrors.size() < 5) {
                firstErrors.add("no answer: " + e);
            }
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 0;
        }
    }

    private static double percentile(long[] sorted, double q) {
        if (sorted.length == 0) {
            return 0;
        }
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))] / 1e6;
    }
}
