package org.peft4j.serve;

import java.nio.file.Path;
import org.peft4j.api.PeftException;

/**
 * How a {@link PeftServer} listens, batches and keeps adapters. Build with {@link #defaults()}
 * and the {@code with...} methods; every value is checked when the record is made.
 *
 * @param host the address to bind; loopback by default, so nothing outside the machine reaches it
 * @param port the port; 0 picks a free one
 * @param maxBatchRows most rows in one forward pass, and most inputs in one request
 * @param maxWaitMs how long the first queued row waits for others to share its forward pass
 * @param workers threads running forward passes at once, each over its own batch: on a few cores,
 *     two passes with one engine thread each keep the cores busier than one pass with two (see
 *     {@link org.peft4j.api.backend.Backend#INTRA_OP_THREADS})
 * @param maxLoaded most adapters resident at once; the least recently used is evicted beyond it
 * @param maxQueue most rows waiting for a forward pass; beyond it requests get 429
 * @param maxLength longest token sequence; longer texts are cut (as {@code peft embed} does)
 * @param adapterDir the only folder adapters may be loaded from at run time; null: run-time loading is refused
 * @param apiKey the bearer token every endpoint but {@code /health} requires; null: no authentication
 */
public record ServeOptions(String host, int port, int maxBatchRows, int maxWaitMs, int workers, int maxLoaded, int maxQueue,
        int maxLength, Path adapterDir, String apiKey) {

    public ServeOptions {
        if (host == null || host.isBlank()) {
            throw new PeftException("host must be given, for example 127.0.0.1");
        }
        check("port", port, 0, 65535);
        check("max batch rows", maxBatchRows, 1, 4096);
        check("max wait ms", maxWaitMs, 0, 10_000);
        check("workers", workers, 1, 256);
        check("max loaded adapters", maxLoaded, 1, 100_000);
        check("max queue", maxQueue, 1, 1_000_000);
        check("max length", maxLength, 2, 8192);
        if (apiKey != null && apiKey.isBlank()) {
            throw new PeftException("the API key must not be blank; leave it unset to serve without one");
        }
    }

    /** Loopback, port 8080, batches of 64 rows within 5 ms, one worker, 64 adapters, 1024 queued rows, 256 tokens. */
    public static ServeOptions defaults() {
        return new ServeOptions("127.0.0.1", 8080, 64, 5, 1, 64, 1024, 256, null, null);
    }

    public ServeOptions withHost(String value) {
        return new ServeOptions(value, port, maxBatchRows, maxWaitMs, workers, maxLoaded, maxQueue, maxLength, adapterDir, apiKey);
    }

    public ServeOptions withPort(int value) {
        return new ServeOptions(host, value, maxBatchRows, maxWaitMs, workers, maxLoaded, maxQueue, maxLength, adapterDir, apiKey);
    }

    public ServeOptions withMaxBatchRows(int value) {
        return new ServeOptions(host, port, value, maxWaitMs, workers, maxLoaded, maxQueue, maxLength, adapterDir, apiKey);
    }

    public ServeOptions withMaxWaitMs(int value) {
        return new ServeOptions(host, port, maxBatchRows, value, workers, maxLoaded, maxQueue, maxLength, adapterDir, apiKey);
    }

    public ServeOptions withWorkers(int value) {
        return new ServeOptions(host, port, maxBatchRows, maxWaitMs, value, maxLoaded, maxQueue, maxLength, adapterDir, apiKey);
    }

    public ServeOptions withMaxLoaded(int value) {
        return new ServeOptions(host, port, maxBatchRows, maxWaitMs, workers, value, maxQueue, maxLength, adapterDir, apiKey);
    }

    public ServeOptions withMaxQueue(int value) {
        return new ServeOptions(host, port, maxBatchRows, maxWaitMs, workers, maxLoaded, value, maxLength, adapterDir, apiKey);
    }

    public ServeOptions withMaxLength(int value) {
        return new ServeOptions(host, port, maxBatchRows, maxWaitMs, workers, maxLoaded, maxQueue, value, adapterDir, apiKey);
    }

    public ServeOptions withAdapterDir(Path value) {
        return new ServeOptions(host, port, maxBatchRows, maxWaitMs, workers, maxLoaded, maxQueue, maxLength, value, apiKey);
    }

    public ServeOptions withApiKey(String value) {
        return new ServeOptions(host, port, maxBatchRows, maxWaitMs, workers, maxLoaded, maxQueue, maxLength, adapterDir, value);
    }

    private static void check(String what, int value, int min, int max) {
        if (value < min || value > max) {
            throw new PeftException(what + " must be in [" + min + ", " + max + "], got " + value);
        }
    }
}
