package org.peft4j.serve;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.config.TaskType;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModel;
import org.peft4j.core.PeftModelFactory;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.models.data.Example;
import org.peft4j.models.task.Classifiers;
import org.peft4j.models.task.SentenceEmbedder;
import org.peft4j.models.task.TextClassifier;
import org.peft4j.models.text.Tokenizer;
import org.peft4j.testkit.Reference;

/**
 * A real server on a free loopback port, driven by the JDK's HttpClient: every endpoint and error
 * code, answers equal to in-process results, concurrent clients over several adapters, a hot swap
 * under load, authentication, path escapes, loading on demand with eviction.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PeftServerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String KEY = "test-key";
    private static final String BASE = "all-MiniLM-L6-v2";
    private static final List<String> TEXTS = List.of("a gripping, beautifully shot film", "dull",
            "the plot never comes together and the jokes fall flat, again and again, for two long hours",
            "warm, funny and surprisingly moving");

    @TempDir
    static Path tmp;
    private Path root;
    private Backend backend;
    private PeftModelFactory factory;
    private PretrainedEncoder encoder;
    private PeftServer server;
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    /** In-process answers: model name to one vector per text of {@link #TEXTS}. */
    private final Map<String, float[][]> expected = new HashMap<>();

    @BeforeAll
    void start() throws Exception {
        backend = Peft.backend("djl");
        factory = Peft.factory(backend);
        encoder = PretrainedEncoder.load("minilm");
        root = Files.createDirectories(tmp.resolve("adapters"));
        // a classifier with its own 3-class head, embedding-only adapters, two versions for the swap
        save("cls3", 3, LoraConfig.builder().r(4).targetModules("query", "value").taskType(TaskType.SEQ_CLS)
                .modulesToSave("classifier").initLoraWeights(LoraConfig.InitLoraWeights.RANDOM).build(), 1);
        save("emb", 2, LoraConfig.builder().r(4).targetModules("query", "key")
                .initLoraWeights(LoraConfig.InitLoraWeights.RANDOM).build(), 2);
        save("swapA", 2, LoraConfig.builder().r(2).targetModules("value")
                .initLoraWeights(LoraConfig.InitLoraWeights.RANDOM).build(), 3);
        save("swapB", 2, LoraConfig.builder().r(2).targetModules("value")
                .initLoraWeights(LoraConfig.InitLoraWeights.RANDOM).build(), 4);
        save("prompt", 2, factory.parseConfig("{\"peft_type\":\"PROMPT_TUNING\",\"task_type\":\"SEQ_CLS\","
                + "\"num_virtual_tokens\":4}"), 5);
        Files.createDirectories(root.resolve("broken"));
        Files.writeString(root.resolve("broken/adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": ");
        for (String name : List.of("cls3", "emb", "swapA", "swapB")) {
            expected.put(name, embedInProcess(root.resolve(name)));
        }
        expected.put(BASE, embedInProcess(null));
        // two workers: every test below also checks that passes running at once answer as one-by-one
        server = PeftServer.start(encoder, factory, ServeOptions.defaults().withPort(0).withAdapterDir(root)
                .withApiKey(KEY).withMaxLoaded(8).withWorkers(2), Map.of("emb", root.resolve("emb")));
    }

    @AfterAll
    void stop() {
        server.close();
        backend.close();
    }

    private void save(String name, int labels, PeftConfig config, long seed) {
        PeftModel peft = factory.create(encoder.classifier(backend, labels, seed), seed);
        peft.addAdapter("default", config);
        peft.save(root.resolve(name), "default");
    }

    /** What {@code peft embed} computes for {@link #TEXTS}, one text at a time. */
    private float[][] embedInProcess(Path adapter) {
        var loaded = adapter == null ? null : AdapterFiles.load(adapter, factory.registry());
        try (Tokenizer tok = encoder.tokenizer()) {
            var bert = loaded == null ? encoder.build(backend) : Classifiers.load(encoder, factory, loaded, 2).net().bert();
            SentenceEmbedder embedder = new SentenceEmbedder(bert, tok, 256, 1);
            return embedder.embed(TEXTS);
        }
    }

    private HttpResponse<String> call(String method, String path, String body, String key) throws Exception {
        HttpRequest.Builder r = HttpRequest.newBuilder(server.uri().resolve(path)).timeout(Duration.ofSeconds(120))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (key != null) {
            r.header("Authorization", "Bearer " + key);
        }
        return client.send(r.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(String path, Object body) throws Exception {
        return call("POST", path, body instanceof String s ? s : JSON.writeValueAsString(body), KEY);
    }

    private static Map<String, Object> req(String model, Object input) {
        Map<String, Object> m = new HashMap<>();
        m.put("model", model);
        m.put("input", input);
        return m;
    }

    private static float[] vector(JsonNode array) {
        float[] v = new float[array.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) array.get(i).asDouble();
        }
        return v;
    }

    private static JsonNode json(HttpResponse<String> r) throws Exception {
        return JSON.readTree(r.body());
    }

    private void assertError(HttpResponse<String> r, int status, String messagePart) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        JsonNode error = json(r).path("error");
        assertThat(error.path("message").asText()).contains(messagePart).doesNotContain("\tat ");
        assertThat(error.path("type").asText()).isNotEmpty();
        assertThat(error.has("code")).isTrue();
    }

    /** Without it a short answer waits for the client's delayed acknowledgement (40 ms on Linux). */
    @Test
    void connectionsSendWithoutNaglesDelayUnlessTheUserChoseOtherwise() {
        assertThat(System.getProperty(PeftServer.NODELAY_PROPERTY)).isEqualTo("true");
    }

    @Test
    void embeddingsEqualWhatPeftEmbedComputesForTheBaseAndEachAdapter() throws Exception {
        for (String model : List.of(BASE, "emb", "cls3")) {
            HttpResponse<String> r = post("/v1/embeddings", req(model, TEXTS));
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            JsonNode body = json(r);
            assertThat(body.path("object").asText()).isEqualTo("list");
            assertThat(body.path("model").asText()).isEqualTo(model);
            assertThat(body.path("usage").path("prompt_tokens").asInt()).isGreaterThan(TEXTS.size() * 2);
            for (int i = 0; i < TEXTS.size(); i++) {
                JsonNode item = body.path("data").get(i);
                assertThat(item.path("object").asText()).isEqualTo("embedding");
                assertThat(item.path("index").asInt()).isEqualTo(i);
                assertThat(Reference.maxAbsDiff(vector(item.path("embedding")), expected.get(model)[i]))
                        .as(model + " text " + i).isLessThan(1e-5f);
            }
        }
        // the adapters really change the answer, so the comparisons above can tell them apart
        assertThat(Reference.maxAbsDiff(expected.get("emb")[0], expected.get(BASE)[0])).isGreaterThan(1e-3f);
        HttpResponse<String> one = post("/v1/embeddings", req("emb", TEXTS.get(1)));
        assertThat(json(one).path("data")).hasSize(1);
    }

    @Test
    void classifyGivesTheAdaptersOwnHeadsPredictionsAsPeftEvalDoes() throws Exception {
        float[][] probs = new float[TEXTS.size()][];
        var loaded = Classifiers.load(encoder, factory, AdapterFiles.load(root.resolve("cls3"), factory.registry()), 2);
        try (Tokenizer tok = encoder.tokenizer(); Scope s = backend.scope()) {
            TextClassifier classifier = new TextClassifier(loaded.net(), tok, 256);
            for (int i = 0; i < TEXTS.size(); i++) {
                Tensor logits = classifier.logits(List.of(new Example(TEXTS.get(i), null, 0)));
                probs[i] = softmax(logits.toFloatArray());
            }
        }
        HttpResponse<String> r = post("/v1/classify", req("cls3", TEXTS));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        for (int i = 0; i < TEXTS.size(); i++) {
            JsonNode item = json(r).path("data").get(i);
            float[] got = vector(item.path("probs"));
            assertThat(got).hasSize(3);
            assertThat(Reference.maxAbsDiff(got, probs[i])).isLessThan(1e-5f);
            assertThat(item.path("label").asInt()).isEqualTo(argmax(probs[i]));
        }
        assertError(post("/v1/classify", req("emb", "x")), 400, "no classification head");
    }

    private static float[] softmax(float[] z) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : z) {
            max = Math.max(max, v);
        }
        double sum = 0;
        double[] e = new double[z.length];
        for (int i = 0; i < z.length; i++) {
            e[i] = Math.exp(z[i] - max);
            sum += e[i];
        }
        float[] p = new float[z.length];
        for (int i = 0; i < z.length; i++) {
            p[i] = (float) (e[i] / sum);
        }
        return p;
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            best = v[i] > v[best] ? i : best;
        }
        return best;
    }

    @Test
    void concurrentClientsOverSeveralAdaptersShareForwardPassesAndGetTheirOwnAnswers() throws Exception {
        List<String> models = List.of(BASE, "emb", "cls3", "swapA");
        post("/v1/adapters", Map.of("name", "swapA", "path", "swapA")); // resident before the clock starts
        double batchesBefore = metric("peft_batch_rows_count");
        double rowsBefore = metric("peft_batch_rows_sum");
        ExecutorService pool = Executors.newFixedThreadPool(16);
        List<Future<String>> failures = new ArrayList<>();
        for (int c = 0; c < 16; c++) {
            int client = c;
            failures.add(pool.submit(() -> {
                for (int k = 0; k < 6; k++) {
                    String model = models.get((client + k) % models.size());
                    int t = (client * 7 + k) % TEXTS.size();
                    HttpResponse<String> r = post("/v1/embeddings", req(model, TEXTS.get(t)));
                    if (r.statusCode() != 200) {
                        return r.body();
                    }
                    float[] got = vector(json(r).path("data").get(0).path("embedding"));
                    if (Reference.maxAbsDiff(got, expected.get(model)[t]) > 1e-5f) {
                        return model + " text " + t + " differs from its one-by-one answer";
                    }
                }
                return null;
            }));
        }
        pool.shutdown();
        for (Future<String> f : failures) {
            assertThat(f.get(300, TimeUnit.SECONDS)).isNull();
        }
        double batches = metric("peft_batch_rows_count") - batchesBefore;
        double rows = metric("peft_batch_rows_sum") - rowsBefore;
        assertThat(rows).isEqualTo(96);
        assertThat(rows / batches).as("rows per forward pass").isGreaterThan(1.5);
    }

    private double metric(String name) throws Exception {
        HttpResponse<String> r = call("GET", "/metrics", null, KEY);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("text/plain");
        for (String line : r.body().split("\n")) {
            if (line.startsWith(name + " ")) {
                return Double.parseDouble(line.substring(name.length() + 1));
            }
        }
        throw new AssertionError("no metric " + name + " in\n" + r.body());
    }

    @Test
    void aHotSwapEvery100MsUnderLoadFailsNoRequestAndEveryAnswerIsFromTheOldOrTheNewWeights() throws Exception {
        assertThat(post("/v1/adapters", Map.of("name", "live", "path", "swapA")).statusCode()).isEqualTo(201);
        AtomicBoolean running = new AtomicBoolean(true);
        ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
        List<Integer> counts = Collections.synchronizedList(new ArrayList<>());
        Thread swapper = new Thread(() -> {
            int n = 0;
            while (running.get()) {
                try {
                    HttpResponse<String> r = post("/v1/adapters", Map.of("name", "live", "path", n++ % 2 == 0 ? "swapB" : "swapA"));
                    if (r.statusCode() != 201) {
                        problems.add("swap: " + r.body());
                    }
                    Thread.sleep(100);
                } catch (Exception e) {
                    problems.add("swap: " + e);
                }
            }
            counts.add(n);
        });
        swapper.start();
        ExecutorService pool = Executors.newFixedThreadPool(6);
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
        for (int c = 0; c < 6; c++) {
            int client = c;
            pool.submit(() -> {
                int k = 0;
                while (System.nanoTime() < end) {
                    int t = (client + k++) % TEXTS.size();
                    try {
                        HttpResponse<String> r = post("/v1/embeddings", req("live", TEXTS.get(t)));
                        if (r.statusCode() != 200) {
                            problems.add(r.body());
                            continue;
                        }
                        float[] got = vector(json(r).path("data").get(0).path("embedding"));
                        if (Reference.maxAbsDiff(got, expected.get("swapA")[t]) > 1e-5f
                                && Reference.maxAbsDiff(got, expected.get("swapB")[t]) > 1e-5f) {
                            problems.add("text " + t + ": an answer from neither the old nor the new weights");
                        }
                    } catch (Exception e) {
                        problems.add(e.toString());
                    }
                }
            });
        }
        pool.shutdown();
        assertThat(pool.awaitTermination(120, TimeUnit.SECONDS)).isTrue();
        running.set(false);
        swapper.join();
        assertThat(problems).isEmpty();
        assertThat(counts.get(0)).as("swaps done").isGreaterThanOrEqualTo(10);
    }

    @Test
    void badInputGetsAClearErrorAndNeverStopsTheServer() throws Exception {
        assertError(post("/v1/embeddings", "{\"model\": "), 400, "not valid JSON");
        assertError(post("/v1/embeddings", "[1, 2]"), 400, "JSON object");
        assertError(post("/v1/embeddings", Map.of("input", "x")), 400, "'model'");
        assertError(post("/v1/embeddings", Map.of("model", BASE)), 400, "'input'");
        assertError(post("/v1/embeddings", req(BASE, List.of("a", 3))), 400, "input[1]");
        assertError(post("/v1/embeddings", req(BASE, List.of())), 400, "non-empty");
        HttpResponse<String> unknown = post("/v1/embeddings", req("nope", "x"));
        assertError(unknown, 404, "nope");
        assertThat(json(unknown).path("error").path("message").asText()).contains(BASE, "emb", "cls3");
        assertError(post("/v1/embeddings", req(BASE, Collections.nCopies(65, "x"))), 400, "at most 64");
        assertError(post("/v1/embeddings", req(BASE, "x".repeat(PeftServer.MAX_BODY_BYTES + 10))), 413, "bytes");
        assertError(call("GET", "/v1/nothing", null, KEY), 404, "no endpoint");
        assertError(call("GET", "/v1/embeddings", null, KEY), 405, "POST");
        assertError(post("/v1/completions", Map.of("model", BASE, "prompt", "hi")), 400, "decoder");
        // a broken or unmixable adapter is refused and the one served under that name stays
        assertError(post("/v1/adapters", Map.of("name", "emb", "path", "broken")), 400, "adapter_config.json");
        assertError(post("/v1/adapters", Map.of("name", "emb", "path", "prompt")), 400, "PROMPT_TUNING");
        assertError(post("/v1/adapters", Map.of("name", "emb", "path", "missing")), 400, "not an adapter folder");
        assertError(post("/v1/adapters", Map.of("name", BASE, "path", "swapA")), 400, "base model");
        HttpResponse<String> still = post("/v1/embeddings", req("emb", TEXTS.get(0)));
        assertThat(Reference.maxAbsDiff(vector(json(still).path("data").get(0).path("embedding")),
                expected.get("emb")[0])).isLessThan(1e-5f);
        assertThat(call("GET", "/health", null, null).statusCode()).isEqualTo(200);
    }

    @Test
    void withAnApiKeyOnlyHealthIsOpen() throws Exception {
        assertThat(call("GET", "/health", null, null).body()).isEqualTo("{\"status\":\"ok\"}");
        assertError(call("GET", "/v1/models", null, null), 401, "API key");
        assertError(call("GET", "/metrics", null, "wrong"), 401, "API key");
        assertError(call("POST", "/v1/embeddings", JSON.writeValueAsString(req(BASE, "x")), "wrong"), 401, "API key");
        assertThat(call("GET", "/v1/models", null, KEY).statusCode()).isEqualTo(200);
    }

    @Test
    void runTimeLoadingReadsOnlyInsideTheAdapterDir() throws Exception {
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Files.writeString(outside.resolve("adapter_config.json"), "{}");
        Files.createSymbolicLink(root.resolve("link-out"), outside);
        assertError(post("/v1/adapters", Map.of("name", "x", "path", "../outside")), 403, "outside the adapter dir");
        assertError(post("/v1/adapters", Map.of("name", "x", "path", outside.toString())), 403, "outside the adapter dir");
        assertError(post("/v1/adapters", Map.of("name", "x", "path", "link-out")), 403, "link");
        assertError(post("/v1/embeddings", req("../outside", "x")), 403, "outside the adapter dir");
        assertError(post("/v1/embeddings", req("link-out", "x")), 403, "link");
    }

    @Test
    void adaptersAreListedLoadedRemovedAndReachableThroughTheVllmAliases() throws Exception {
        assertThat(post("/v1/adapters", Map.of("name", "tmp", "path", "swapB")).statusCode()).isEqualTo(201);
        JsonNode models = json(call("GET", "/v1/models", null, KEY));
        assertThat(models.path("object").asText()).isEqualTo("list");
        Map<String, JsonNode> byId = new HashMap<>();
        models.path("data").forEach(m -> byId.put(m.path("id").asText(), m));
        assertThat(byId).containsKeys(BASE, "emb", "tmp", "cls3", "swapB", "prompt");
        assertThat(byId.get("tmp").path("peft_type").asText()).isEqualTo("LORA");
        assertThat(byId.get("tmp").path("loaded").asBoolean()).isTrue();
        assertThat(byId.get("prompt").path("loaded").asBoolean()).isFalse();
        assertThat(byId.get("prompt").path("peft_type").asText()).isEqualTo("PROMPT_TUNING");
        assertThat(byId.get("cls3").path("task_type").asText()).isEqualTo("SEQ_CLS");

        assertThat(call("DELETE", "/v1/adapters/tmp", null, KEY).statusCode()).isEqualTo(204);
        assertError(post("/v1/embeddings", req("tmp", "x")), 404, "tmp");
        assertError(call("DELETE", "/v1/adapters/tmp", null, KEY), 404, "tmp");

        assertThat(post("/v1/load_lora_adapter", Map.of("lora_name", "v", "lora_path", "swapB")).statusCode()).isEqualTo(200);
        HttpResponse<String> r = post("/v1/embeddings", req("v", TEXTS.get(2)));
        assertThat(Reference.maxAbsDiff(vector(json(r).path("data").get(0).path("embedding")),
                expected.get("swapB")[2])).isLessThan(1e-5f);
        assertThat(post("/v1/unload_lora_adapter", Map.of("lora_name", "v")).statusCode()).isEqualTo(200);
        assertError(post("/v1/embeddings", req("v", "x")), 404, "'v'");
    }

    @Test
    void adaptersLoadOnDemandOnceAndTheLeastRecentlyUsedIsEvictedBeyondTheLimit() throws Exception {
        try (PeftServer small = PeftServer.start(encoder, factory, ServeOptions.defaults().withPort(0)
                .withAdapterDir(root).withMaxLoaded(2).withMaxQueue(8), Map.of())) {
            CountDownLatch go = new CountDownLatch(1);
            ExecutorService pool = Executors.newFixedThreadPool(8);
            List<Future<Integer>> statuses = new ArrayList<>();
            for (int c = 0; c < 8; c++) {
                statuses.add(pool.submit(() -> {
                    go.await();
                    return send(small, "/v1/embeddings", req("swapA", TEXTS.get(0))).statusCode();
                }));
            }
            go.countDown();
            for (Future<Integer> f : statuses) {
                assertThat(f.get(120, TimeUnit.SECONDS)).isEqualTo(200);
            }
            pool.shutdown();
            assertThat(metricOf(small, "peft_adapter_loads_total")).as("loaded once for 8 requests").isEqualTo(1);
            for (String model : List.of("swapB", "emb", "cls3")) {
                assertThat(send(small, "/v1/embeddings", req(model, TEXTS.get(1))).statusCode()).isEqualTo(200);
            }
            assertThat(metricOf(small, "peft_adapter_evictions_total")).isEqualTo(2);
            // evicted, then loaded again on demand with the same weights
            HttpResponse<String> again = send(small, "/v1/embeddings", req("swapA", TEXTS.get(3)));
            assertThat(Reference.maxAbsDiff(vector(json(again).path("data").get(0).path("embedding")),
                    expected.get("swapA")[3])).isLessThan(1e-5f);
            assertThat(metricOf(small, "peft_adapter_loads_total")).isEqualTo(5);
            assertThat(metricOf(small, "peft_adapters_loaded")).isEqualTo(2);
            // more rows than the queue takes: 429
            HttpResponse<String> full = send(small, "/v1/embeddings", req(BASE, Collections.nCopies(9, "x")));
            assertThat(full.statusCode()).isEqualTo(429);
            assertThat(json(full).path("error").path("type").asText()).isEqualTo("rate_limit_error");
            // without an adapter dir nothing loads at run time
        }
        try (PeftServer closed = PeftServer.start(encoder, factory, ServeOptions.defaults().withPort(0), Map.of())) {
            assertError(send(closed, "/v1/adapters", Map.of("name", "x", "path", root.resolve("emb").toString())), 403,
                    "--adapter-dir");
            assertError(send(closed, "/v1/embeddings", req("emb", "x")), 404, "emb");
        }
    }

    @Test
    void closingFinishesTheAdmittedRequestsAndThenRefusesNewOnes() throws Exception {
        PeftServer s = PeftServer.start(encoder, factory, ServeOptions.defaults().withPort(0), Map.of());
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<HttpResponse<String>>> inFlight = new ArrayList<>();
        for (int c = 0; c < 4; c++) {
            inFlight.add(pool.submit(() -> send(s, "/v1/embeddings", req(BASE, Collections.nCopies(64, TEXTS.get(2))))));
        }
        Thread.sleep(300);
        s.close();
        for (Future<HttpResponse<String>> f : inFlight) {
            HttpResponse<String> r = f.get(120, TimeUnit.SECONDS);
            assertThat(r.statusCode()).as(r.body()).isIn(200, 503);
            if (r.statusCode() == 200) {
                assertThat(json(r).path("data")).hasSize(64);
            }
        }
        pool.shutdown();
        assertThat(inFlight.stream().filter(f -> {
            try {
                return f.get().statusCode() == 200;
            } catch (Exception e) {
                return false;
            }
        }).count()).as("requests admitted before close finish").isGreaterThanOrEqualTo(1);
    }

    private HttpResponse<String> send(PeftServer s, String path, Object body) throws Exception {
        return client.send(HttpRequest.newBuilder(s.uri().resolve(path)).timeout(Duration.ofSeconds(120))
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private double metricOf(PeftServer s, String name) throws Exception {
        String text = client.send(HttpRequest.newBuilder(s.uri().resolve("/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        for (String line : text.split("\n")) {
            if (line.startsWith(name + " ")) {
                return Double.parseDouble(line.substring(name.length() + 1));
            }
        }
        throw new AssertionError("no metric " + name);
    }

    @Test
    void optionsRefuseNonsense() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ServeOptions.defaults().withMaxBatchRows(0))
                .hasMessageContaining("max batch rows").hasMessageContaining("got 0");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ServeOptions.defaults().withPort(70000))
                .hasMessageContaining("port");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ServeOptions.defaults().withApiKey(" "))
                .hasMessageContaining("API key");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ServeOptions.defaults().withWorkers(0))
                .hasMessageContaining("workers").hasMessageContaining("got 0");
    }
}
