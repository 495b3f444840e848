package org.peft4j.serve;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.peft4j.api.PeftException;
import org.peft4j.api.nn.Linear;
import org.peft4j.core.PeftModel;
import org.peft4j.core.PeftModelFactory;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.core.io.HostTensor;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.api.nn.Module;
import org.peft4j.models.PretrainedDecoder;
import org.peft4j.models.bert.BertForSequenceClassification;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.decoder.CausalLM;
import org.peft4j.models.text.Tokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One base model, many adapters, one HTTP endpoint: OpenAI-shaped embeddings
 * ({@code POST /v1/embeddings}) and classification ({@code POST /v1/classify}) for an encoder, greedy
 * completions ({@code POST /v1/completions}) for a decoder, where {@code model}
 * names an adapter (or the base model), adapters loaded, replaced (a hot swap) and removed at run
 * time, Prometheus metrics. Requests for different adapters share forward passes
 * ({@link Batcher}); adapters stay resident up to a limit ({@link ServedAdapters}).
 *
 * <pre>{@code
 * try (PeftServer server = PeftServer.start(PretrainedEncoder.load("minilm"), factory,
 *         ServeOptions.defaults().withPort(0), Map.of("sst2", Path.of("out/adapter")))) {
 *     System.out.println(server.uri());
 *     server.awaitClose();
 * }
 * }</pre>
 *
 * Runs on the JDK's {@code com.sun.net.httpserver}; every error is OpenAI's
 * {@code {"error":{"message","type","code"}}} and never carries a stack trace. {@link #close}
 * stops taking requests (503), finishes those admitted, then stops listening.
 */
public final class PeftServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PeftServer.class);
    /** The largest request body read; larger ones get 413. */
    public static final int MAX_BODY_BYTES = 1 << 20;
    /** An oversized body up to this size is read and dropped so the client receives its 413. */
    private static final long MAX_DRAINED_BYTES = 16L << 20;
    private static final long REQUEST_TIMEOUT_SECONDS = 300;
    private static final int HTTP_THREADS = 64;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final java.util.concurrent.atomic.AtomicLong COMPLETIONS = new java.util.concurrent.atomic.AtomicLong();
    /** The JDK server's switch for TCP_NODELAY on its connections; read once, when its classes load. */
    static final String NODELAY_PROPERTY = "sun.net.httpserver.nodelay";

    static {
        // The JDK server sends a response's headers and its body as two writes. With Nagle's
        // algorithm on (its default) the body waits until the client acknowledges the headers, and
        // clients delay that acknowledgement (40 ms on Linux): one short request took ~100 ms
        // instead of ~35 ms, and under load answered clients came back too late to share a batch.
        // A user's own setting wins.
        if (System.getProperty(NODELAY_PROPERTY) == null) {
            System.setProperty(NODELAY_PROPERTY, "true");
        }
    }

    private final ServeOptions options;
    private final Tokenizer tokenizer;
    private final BertModel bert;
    private final CausalLM lm;
    private final Metrics metrics = new Metrics();
    private final ServedAdapters adapters;
    private final Batcher batcher;
    private final HttpServer http;
    private final ExecutorService executor;
    private final byte[] apiKey;
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private volatile boolean closing;

    /**
     * The base model served: an encoder (embeddings, classification) or a decoder (completions).
     *
     * @param net what adapters are injected into (their tensor names follow it)
     * @param tokenizer null for a decoder folder without {@code tokenizer.json} (prompts as token ids)
     * @param head the encoder folder's own classification head, or null
     */
    private record Base(String id, Module net, BertModel bert, CausalLM lm, Tokenizer tokenizer,
            ServedAdapters.Head head, int hidden, java.util.function.UnaryOperator<AdapterFiles.Loaded> naming) {
    }

    private PeftServer(Base base, PeftModelFactory factory, ServeOptions options, Map<String, Path> preload)
            throws IOException {
        this.options = options;
        this.apiKey = options.apiKey() == null ? null : options.apiKey().getBytes(StandardCharsets.UTF_8);
        this.tokenizer = base.tokenizer();
        this.bert = base.bert();
        this.lm = base.lm();
        base.net().setTraining(false);
        PeftModel peft = factory.create(base.net(), 42);
        this.adapters = new ServedAdapters(peft, factory.registry(), base.id(), base.head(), base.hidden(),
                bert != null && bert.hasPooler(), base.naming(), options.maxLoaded(), options.adapterDir(), metrics);
        preload.forEach(adapters::preload);
        this.batcher = new Batcher(peft, bert, lm, adapters, metrics, options);
        AtomicInteger threads = new AtomicInteger();
        this.executor = Executors.newFixedThreadPool(HTTP_THREADS, r -> {
            Thread t = new Thread(r, "peft-http-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.http = HttpServer.create(new InetSocketAddress(options.host(), options.port()), 256);
        http.createContext("/", this::handle);
        http.setExecutor(executor);
        http.start();
        LOG.info("serving {} with {} adapters on {}", base.id(), preload.size(), uri());
    }

    /**
     * Serves an encoder: loads the model, injects the {@code preload} adapters (name to folder; any
     * folder the operator names) and starts listening.
     *
     * @param factory makes the model on its backend; its registry decides which methods load
     * @throws PeftException when the address is taken or an adapter does not load
     */
    public static PeftServer start(PretrainedEncoder encoder, PeftModelFactory factory, ServeOptions options,
            Map<String, Path> preload) {
        // adapters are named for the classifier (base_model.model.bert...), so the model served is one
        BertForSequenceClassification net = encoder.classifier(factory.backend(), encoder.headLabels() > 0 ? 0 : 2, 42);
        ServedAdapters.Head head = null;
        if (encoder.headLabels() > 0) {
            Linear linear = net.child("classifier", Linear.class);
            head = ServedAdapters.Head.of(HostTensor.of(linear.weight().value()), HostTensor.of(linear.bias().value()),
                    net.pooling() == BertForSequenceClassification.Pooling.CLS_POOLER);
        }
        return start(new Base(encoder.name(), net, net.bert(), null, encoder.tokenizer(), head,
                encoder.config().hiddenSize(), net::adapterNaming), factory, options, preload);
    }

    /**
     * Serves a decoder (a GPT-2 or LLaMA folder, {@link PretrainedDecoder}) for
     * {@code /v1/completions}; prompts may be text when the folder has {@code tokenizer.json}.
     */
    public static PeftServer startDecoder(Path folder, PeftModelFactory factory, ServeOptions options,
            Map<String, Path> preload) {
        CausalLM lm = PretrainedDecoder.load(factory.backend(), folder);
        Path tokenizerFile = folder.resolve("tokenizer.json");
        Tokenizer tok = Files.isRegularFile(tokenizerFile) ? Tokenizer.fromFile(tokenizerFile) : null;
        return start(new Base(folder.toAbsolutePath().normalize().getFileName().toString(), lm, null, lm, tok, null, -1,
                lm::adapterNaming), factory, options, preload);
    }

    private static PeftServer start(Base base, PeftModelFactory factory, ServeOptions options, Map<String, Path> preload) {
        try {
            return new PeftServer(base, factory, options, preload);
        } catch (IOException e) {
            closeQuietly(base.tokenizer());
            throw new PeftException("cannot listen on " + options.host() + ":" + options.port() + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(base.tokenizer());
            throw e;
        }
    }

    private static void closeQuietly(Tokenizer t) {
        if (t != null) {
            t.close();
        }
    }

    /** Where the server listens, for example {@code http://127.0.0.1:8080}; with port 0, the port picked. */
    public URI uri() {
        InetSocketAddress a = http.getAddress();
        String host = a.getAddress().getHostAddress();
        return URI.create("http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort());
    }

    /** Blocks until {@link #close} has finished. */
    public void awaitClose() throws InterruptedException {
        try {
            closed.get();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Stops taking requests (503), finishes the admitted ones, stops listening and frees the model's tokenizer. */
    @Override
    public void close() {
        synchronized (this) {
            if (closing) {
                return;
            }
            closing = true;
        }
        batcher.drain(TimeUnit.SECONDS.toMillis(REQUEST_TIMEOUT_SECONDS));
        http.stop(1);
        executor.shutdown();
        closeQuietly(tokenizer);
        LOG.info("server stopped");
        closed.complete(null);
    }

    private void handle(HttpExchange ex) {
        long start = System.nanoTime();
        String method = ex.getRequestMethod();
        String path = ex.getRequestURI().getRawPath();
        String endpoint = path.startsWith("/v1/adapters/") ? "/v1/adapters/{name}" : path;
        String[] model = {null};
        int status;
        try {
            if (closing) {
                throw ApiError.shuttingDown();
            }
            if (!path.equals("/health")) {
                authenticate(ex);
            }
            status = route(ex, method, path, model);
        } catch (ApiError e) {
            status = error(ex, e);
        } catch (PeftException e) {
            status = error(ex, ApiError.badRequest(e.getMessage()));
        } catch (RuntimeException e) {
            LOG.error("{} {} failed", method, path, e);
            status = error(ex, new ApiError(500, "server_error", "internal_error", "internal error: " + e));
        } finally {
            ex.close();
        }
        if (!isKnown(endpoint)) {
            endpoint = "other";
        }
        metrics.request(endpoint, model[0], status, (System.nanoTime() - start) / 1e9);
    }

    private static boolean isKnown(String endpoint) {
        return switch (endpoint) {
            case "/health", "/v1/models", "/v1/embeddings", "/v1/classify", "/v1/completions", "/v1/adapters",
                    "/v1/adapters/{name}", "/v1/load_lora_adapter", "/v1/unload_lora_adapter", "/metrics" -> true;
            default -> false;
        };
    }

    private void authenticate(HttpExchange ex) {
        if (apiKey == null) {
            return;
        }
        String header = ex.getRequestHeaders().getFirst("Authorization");
        byte[] given = header == null || !header.startsWith("Bearer ") ? new byte[0]
                : header.substring("Bearer ".length()).getBytes(StandardCharsets.UTF_8);
        if (!MessageDigest.isEqual(given, apiKey)) {
            throw ApiError.unauthorized();
        }
    }

    private int route(HttpExchange ex, String method, String path, String[] model) {
        switch (path) {
            case "/health" -> {
                expect(method, "GET");
                return send(ex, 200, JSON.createObjectNode().put("status", "ok"));
            }
            case "/v1/models" -> {
                expect(method, "GET");
                return send(ex, 200, models());
            }
            case "/v1/embeddings", "/v1/classify" -> {
                expect(method, "POST");
                if (bert == null) {
                    throw ApiError.badRequest("the served model " + adapters.baseId() + " is a decoder; use /v1/completions");
                }
                ObjectNode body = body(ex);
                model[0] = requiredText(body, "model");
                return send(ex, 200, infer(model[0], inputs(body), path.equals("/v1/classify")));
            }
            case "/v1/completions" -> {
                expect(method, "POST");
                if (lm == null) {
                    throw ApiError.badRequest("the served model " + adapters.baseId() + " is an encoder; /v1/completions "
                            + "needs a decoder base model (serve a GPT-2 or LLaMA folder)");
                }
                ObjectNode body = body(ex);
                model[0] = requiredText(body, "model");
                return send(ex, 200, complete(model[0], body));
            }
            case "/v1/adapters", "/v1/load_lora_adapter" -> {
                expect(method, "POST");
                ObjectNode body = body(ex);
                boolean vllm = path.equals("/v1/load_lora_adapter");
                model[0] = requiredText(body, vllm ? "lora_name" : "name");
                ServedAdapters.Served s = adapters.put(model[0], requiredText(body, vllm ? "lora_path" : "path"));
                return send(ex, vllm ? 200 : 201, modelEntry(s.name(), s.peftType(), s.taskType(), true));
            }
            case "/v1/unload_lora_adapter" -> {
                expect(method, "POST");
                model[0] = requiredText(body(ex), "lora_name");
                adapters.remove(model[0]);
                return send(ex, 200, JSON.createObjectNode().put("id", model[0]).put("deleted", true));
            }
            case "/metrics" -> {
                expect(method, "GET");
                metrics.queueDepth(batcher.pending());
                byte[] text = metrics.render().getBytes(StandardCharsets.UTF_8);
                return write(ex, 200, "text/plain; version=0.0.4; charset=utf-8", text);
            }
            default -> {
                if (path.startsWith("/v1/adapters/")) {
                    expect(method, "DELETE");
                    model[0] = URLDecoder.decode(path.substring("/v1/adapters/".length()), StandardCharsets.UTF_8);
                    adapters.remove(model[0]);
                    return write(ex, 204, null, null);
                }
                throw ApiError.notFound("unknown_endpoint", "no endpoint " + method + " " + path + "; see GET /v1/models, "
                        + "POST /v1/embeddings, POST /v1/classify, POST /v1/adapters, DELETE /v1/adapters/NAME, GET /metrics");
            }
        }
    }


    private ObjectNode infer(String model, List<String> inputs, boolean classify) {
        if (inputs.size() > options.maxBatchRows()) {
            throw ApiError.badRequest("'input' has " + inputs.size() + " items; at most " + options.maxBatchRows()
                    + " (--max-batch-rows) per request");
        }
        int[] tokens = {0};
        List<CompletableFuture<float[]>> results = onAdapter(model, served -> {
            if (classify && served.head() == null) {
                throw ApiError.badRequest("model '" + model + "' has no classification head; use /v1/embeddings, or an "
                        + "adapter trained for classification (SEQ_CLS)");
            }
            Tokenizer.Batch enc = tokenizer.encode(inputs, options.maxLength());
            List<Batcher.Row> rows = new ArrayList<>();
            List<CompletableFuture<float[]>> futures = new ArrayList<>();
            for (int i = 0; i < inputs.size(); i++) {
                CompletableFuture<float[]> f = new CompletableFuture<>();
                rows.add(new Batcher.Row(served, enc.ids(i), enc.types(i), classify, f));
                futures.add(f);
                tokens[0] += enc.length(i);
            }
            batcher.submit(rows);
            return futures;
        });
        ObjectNode out = JSON.createObjectNode();
        ArrayNode data = JSON.createArrayNode();
        for (int i = 0; i < results.size(); i++) {
            float[] v = await(results.get(i));
            ObjectNode item = data.addObject();
            if (classify) {
                int best = 0;
                for (int c = 1; c < v.length; c++) {
                    best = v[c] > v[best] ? c : best;
                }
                item.put("index", i).put("label", best);
                ArrayNode probs = item.putArray("probs");
                for (float p : v) {
                    probs.add(p);
                }
            } else {
                item.put("object", "embedding").put("index", i);
                ArrayNode emb = item.putArray("embedding");
                for (float x : v) {
                    emb.add(x);
                }
            }
        }
        if (!classify) {
            out.put("object", "list");
        }
        out.set("data", data);
        out.put("model", model);
        out.putObject("usage").put("prompt_tokens", tokens[0]).put("total_tokens", tokens[0]);
        return out;
    }

    /**
     * Runs {@code submit} with {@code model}'s adapter acquired (an unknown model is a 404 before
     * anything else) and releases it when every future it returned has completed, or at once when
     * it throws: a hot swap or an eviction frees the weights only after the requests that started
     * on them are done.
     */
    private <T> List<CompletableFuture<T>> onAdapter(String model,
            java.util.function.Function<ServedAdapters.Served, List<CompletableFuture<T>>> submit) {
        ServedAdapters.Served served = adapters.acquire(model);
        List<CompletableFuture<T>> futures;
        try {
            futures = submit.apply(served);
        } catch (RuntimeException e) {
            adapters.release(served);
            throw e;
        }
        CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).whenComplete((v, e) -> adapters.release(served));
        return futures;
    }

    /** A greedy completion (OpenAI's legacy completions shape), plus the ids in each choice's {@code token_ids}. */
    private ObjectNode complete(String model, ObjectNode body) {
        long[][] prompt = {null};
        CompletableFuture<long[]> result = onAdapter(model, served -> {
            prompt[0] = prompt(body);
            int maxTokens = maxTokens(body);
            for (int i = 0; i < prompt[0].length; i++) {
                if (prompt[0][i] < 0 || prompt[0][i] >= lm.vocabSize()) {
                    throw ApiError.badRequest("prompt token " + i + " is " + prompt[0][i] + "; ids are in [0, "
                            + lm.vocabSize() + ")");
                }
            }
            if (prompt[0].length + (long) maxTokens > lm.maxPositions()) {
                throw ApiError.badRequest("the prompt (" + prompt[0].length + " tokens) plus max_tokens (" + maxTokens
                        + ") exceed the model's " + lm.maxPositions() + " positions");
            }
            CompletableFuture<long[]> f = new CompletableFuture<>();
            batcher.submit(List.of(new Batcher.Generation(served, prompt[0], maxTokens, f)));
            return List.of(f);
        }).get(0);
        long[] ids = await(result);
        boolean stopped = ids.length > 0 && lm.eosTokenIds().contains(ids[ids.length - 1]);
        ObjectNode out = JSON.createObjectNode().put("id", "cmpl-" + COMPLETIONS.incrementAndGet())
                .put("object", "text_completion").put("created", System.currentTimeMillis() / 1000).put("model", model);
        ObjectNode choice = out.putArray("choices").addObject();
        choice.put("text", tokenizer == null ? "" : tokenizer.decode(ids)).put("index", 0)
                .put("finish_reason", stopped ? "stop" : "length");
        ArrayNode tokenIds = choice.putArray("token_ids");
        for (long id : ids) {
            tokenIds.add(id);
        }
        out.putObject("usage").put("prompt_tokens", prompt[0].length).put("completion_tokens", ids.length)
                .put("total_tokens", prompt[0].length + ids.length);
        return out;
    }

    private static int maxTokens(ObjectNode body) {
        JsonNode m = body.get("max_tokens");
        if (m == null || m.isNull()) {
            return 16; // OpenAI's default
        }
        if (!m.isIntegralNumber() || !m.canConvertToInt() || m.asInt() < 0) {
            throw ApiError.badRequest("field 'max_tokens' must be a non-negative integer, got " + m);
        }
        return m.asInt();
    }

    /** OpenAI's {@code prompt}: text (needs the folder's tokenizer) or an array of token ids. */
    private long[] prompt(ObjectNode body) {
        JsonNode p = body.get("prompt");
        if (p == null || p.isNull()) {
            throw ApiError.badRequest("missing field 'prompt'");
        }
        long[] ids;
        if (p.isTextual()) {
            if (tokenizer == null) {
                throw ApiError.badRequest("the served model has no tokenizer.json; send 'prompt' as an array of token ids");
            }
            ids = tokenizer.encode(List.of(p.asText()), lm.maxPositions()).ids(0);
        } else if (p.isArray()) {
            ids = new long[p.size()];
            for (int i = 0; i < ids.length; i++) {
                if (!p.get(i).isIntegralNumber()) {
                    throw ApiError.badRequest("prompt[" + i + "] must be a token id, got " + p.get(i));
                }
                ids[i] = p.get(i).asLong();
            }
        } else {
            throw ApiError.badRequest("field 'prompt' must be a string or an array of token ids");
        }
        if (ids.length == 0) {
            throw ApiError.badRequest("the prompt is empty");
        }
        return ids;
    }

    private static <T> T await(CompletableFuture<T> f) {
        try {
            return f.get(REQUEST_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ApiError.shuttingDown();
        } catch (TimeoutException e) {
            throw new ApiError(503, "server_error", "timeout", "no answer within " + REQUEST_TIMEOUT_SECONDS + " s");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof ApiError a) {
                throw a;
            }
            throw new ApiError(500, "server_error", "inference_failed", "inference failed: " + e.getCause().getMessage());
        }
    }

    private ObjectNode models() {
        ObjectNode out = JSON.createObjectNode().put("object", "list");
        ArrayNode data = out.putArray("data");
        for (ServedAdapters.Listing l : adapters.list()) {
            data.add(modelEntry(l.id(), l.peftType(), l.taskType(), l.loaded()));
        }
        return out;
    }

    private static ObjectNode modelEntry(String id, String peftType, String taskType, boolean loaded) {
        ObjectNode m = JSON.createObjectNode().put("id", id).put("object", "model").put("created", 0)
                .put("owned_by", "peft4j");
        m.put("peft_type", peftType).put("task_type", taskType).put("loaded", loaded);
        return m;
    }

    private static void expect(String method, String wanted) {
        if (!method.equals(wanted)) {
            throw new ApiError(405, "invalid_request_error", "method_not_allowed", "use " + wanted + ", not " + method);
        }
    }

    private static ObjectNode body(HttpExchange ex) {
        String length = ex.getRequestHeaders().getFirst("Content-Length");
        if (length != null) {
            try {
                if (Long.parseLong(length.trim()) > MAX_BODY_BYTES) {
                    throw tooLarge(ex);
                }
            } catch (NumberFormatException e) {
                throw ApiError.badRequest("Content-Length '" + length + "' is not a number");
            }
        }
        byte[] bytes;
        try {
            bytes = ex.getRequestBody().readNBytes(MAX_BODY_BYTES + 1);
        } catch (IOException e) {
            throw ApiError.badRequest("cannot read the request body: " + e.getMessage());
        }
        if (bytes.length > MAX_BODY_BYTES) {
            throw tooLarge(ex);
        }
        JsonNode node;
        try {
            node = JSON.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw ApiError.badRequest("the request body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw ApiError.badRequest("cannot read the request body: " + e.getMessage());
        }
        if (node == null || !node.isObject()) {
            throw ApiError.badRequest("the request body must be a JSON object");
        }
        return (ObjectNode) node;
    }

    /**
     * The 413 error, after reading (and dropping) the rest of a moderately large body: a connection
     * closed with unread data is reset, and the client would lose the answer. Bodies beyond
     * {@link #MAX_DRAINED_BYTES} are not read; their connection is simply closed.
     */
    private static ApiError tooLarge(HttpExchange ex) {
        try {
            byte[] sink = new byte[64 * 1024];
            long total = 0;
            for (int n; total <= MAX_DRAINED_BYTES && (n = ex.getRequestBody().read(sink)) >= 0; ) {
                total += n;
            }
        } catch (IOException e) {
            LOG.debug("while dropping an oversized body: {}", e.getMessage());
        }
        return ApiError.tooLarge("the request body is over " + MAX_BODY_BYTES + " bytes");
    }

    private static String requiredText(ObjectNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            throw ApiError.badRequest("missing field '" + field + "'");
        }
        if (!v.isTextual() || v.asText().isEmpty()) {
            throw ApiError.badRequest("field '" + field + "' must be a non-empty string");
        }
        return v.asText();
    }

    /** OpenAI's {@code input}: one string or a non-empty array of strings. */
    private static List<String> inputs(ObjectNode body) {
        JsonNode v = body.get("input");
        if (v == null || v.isNull()) {
            throw ApiError.badRequest("missing field 'input'");
        }
        if (v.isTextual()) {
            return List.of(v.asText());
        }
        if (!v.isArray() || v.isEmpty()) {
            throw ApiError.badRequest("field 'input' must be a string or a non-empty array of strings");
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            if (!v.get(i).isTextual()) {
                throw ApiError.badRequest("input[" + i + "] must be a string, got " + v.get(i).getNodeType());
            }
            out.add(v.get(i).asText());
        }
        return out;
    }

    private static int send(HttpExchange ex, int status, JsonNode body) {
        try {
            return write(ex, status, "application/json", JSON.writeValueAsBytes(body));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static int error(HttpExchange ex, ApiError e) {
        ObjectNode body = JSON.createObjectNode();
        body.putObject("error").put("message", e.getMessage()).put("type", e.type()).put("code", e.code());
        try {
            return write(ex, e.status(), "application/json", JSON.writeValueAsBytes(body));
        } catch (JsonProcessingException | RuntimeException w) {
            return e.status(); // the client went away or the response was already begun
        }
    }

    private static int write(HttpExchange ex, int status, String contentType, byte[] body) {
        try {
            if (contentType != null) {
                ex.getResponseHeaders().set("Content-Type", contentType);
            }
            if (body == null) {
                ex.sendResponseHeaders(status, -1);
            } else {
                ex.sendResponseHeaders(status, body.length);
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(body);
                }
            }
        } catch (IOException e) {
            LOG.debug("response not delivered: {}", e.getMessage());
        }
        return status;
    }
}
