package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code peft serve} as an operator runs it, in its own JVM: the ready line, real requests, the
 * load generator against it, and SIGTERM ending it with exit code 0.
 */
class ServeCliTest {
    @TempDir
    Path dir;

    @Test
    void servePrintsWhereItListensAnswersAndExitsCleanlyOnSigterm() throws Exception {
        Path adapter = dir.resolve("sst2");
        Path train = CliTest.head(CliTest.sst2("train-20k.tsv"), 32, dir.resolve("train.tsv"));
        Path dev = CliTest.head(CliTest.sst2("dev.tsv"), 16, dir.resolve("dev.tsv"));
        String[] trained = CliTest.run("train", "--train", train.toString(), "--eval", dev.toString(),
                "--out", adapter.toString(), "--batch-size", "16", "--max-length", "32");
        assertThat(trained[0]).as(trained[2]).isEqualTo("0");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-Xmx2g", "-cp", System.getProperty("java.class.path"),
                "org.peft4j.examples.cli.PeftCli", "serve", "--port", "0", "--adapter", "sst2=" + adapter)
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String ready = CompletableFuture.supplyAsync(() -> {
                try {
                    return out.readLine();
                } catch (Exception e) {
                    return e.toString();
                }
            }).get(180, TimeUnit.SECONDS);
            assertThat(ready).matches("peft: serving on http://127\\.0\\.0\\.1:\\d+");
            URI url = URI.create(ready.substring("peft: serving on ".length()));
            HttpClient client = HttpClient.newHttpClient();
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(url.resolve("/v1/classify"))
                    .timeout(Duration.ofSeconds(60))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"sst2\",\"input\":[\"a great film\",\"awful\"]}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            assertThat(new ObjectMapper().readTree(r.body()).path("data")).hasSize(2);

            String[] load = CliTest.run("loadtest", "--url", url.toString(), "--models", "sst2,all-MiniLM-L6-v2",
                    "--concurrency", "4", "--requests", "24", "--warmup", "8", "--max-seconds", "120");
            assertThat(load[0]).as(load[2]).isEqualTo("0");
            List<String> lines = load[1].lines().toList();
            JsonNode result = new ObjectMapper().readTree(lines.get(lines.size() - 1));
            assertThat(result.path("requests").asInt()).isEqualTo(24); // the 8 warm-up requests are left out
            String metrics = "";
            long embeddings = 0;
            // the server counts a request just after answering it, so the last one may lag a moment
            for (int tries = 0; tries < 50 && embeddings < 32; tries++, Thread.sleep(100)) {
                metrics = client.send(HttpRequest.newBuilder(url.resolve("/metrics")).build(),
                        HttpResponse.BodyHandlers.ofString()).body();
                embeddings = metrics.lines().filter(l -> l.startsWith("peft_requests_total{") && l.contains("embeddings"))
                        .mapToLong(l -> Long.parseLong(l.substring(l.lastIndexOf(' ') + 1))).sum();
            }
            assertThat(embeddings).as(metrics).isEqualTo(32); // ... but were sent
            assertThat(result.path("errors").asInt()).isZero();
            assertThat(result.path("throughput_rps").asDouble()).isPositive();
            assertThat(result.path("p99_ms").asDouble()).isGreaterThanOrEqualTo(result.path("p50_ms").asDouble());

            p.destroy(); // SIGTERM
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).isZero();
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void badServeFlagsFailInOneLine() {
        String[] r = CliTest.run("serve", "--adapter", "x=" + dir.resolve("none"));
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2]).contains("not an adapter folder");
        r = CliTest.run("serve", "--max-batch-rows", "0");
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2]).contains("max batch rows must be in [1, 4096], got 0");
        r = CliTest.run("serve", "--workers", "0");
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2]).contains("workers must be in [1, 256], got 0");
        r = CliTest.run("loadtest", "--url", "ftp://x", "--models", "a");
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2]).contains("url must be");
    }
}
