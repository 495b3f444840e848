package org.peft4j.serve;

import static org.assertj.core.api.Assertions.assertThat;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The load generator's figures against a stub server on 127.0.0.1 (real HTTP, no model). */
class LoadGeneratorTest {
    @Test
    void aSwapStillInFlightWhenTheLoadEndsIsNoSwapError() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/v1/embeddings", ex -> answer(ex, 200));
        server.createContext("/v1/adapters", ex -> { // a swap that outlasts the whole load
            try {
                release.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            answer(ex, 201);
        });
        server.start();
        try {
            URI url = URI.create("http://127.0.0.1:" + server.getAddress().getPort());
            LoadGenerator.Result r = LoadGenerator.run(new LoadGenerator.Options(url, List.of("m"), "embeddings", 2, 20, 0,
                    Duration.ofSeconds(60), null, "live", "v2", 1));
            assertThat(r.requests()).isEqualTo(20);
            assertThat(r.errors()).isZero();
            assertThat(r.swapErrors()).as(r.firstErrors().toString()).isZero();
            assertThat(r.swaps()).isZero();
        } finally {
            release.countDown();
            server.stop(0);
        }
    }

    private static void answer(HttpExchange ex, int status) throws IOException {
        byte[] body = "{}".getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(status, body.length);
        ex.getResponseBody().write(body);
        ex.close();
    }
}
