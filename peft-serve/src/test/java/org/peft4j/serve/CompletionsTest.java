package org.peft4j.serve;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.config.TaskType;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModel;
import org.peft4j.core.PeftModelFactory;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.PretrainedDecoder;
import org.peft4j.models.decoder.CausalLM;
import org.peft4j.models.text.Tokenizer;
import org.peft4j.testkit.TinyGpt2;

/** A decoder served for {@code /v1/completions}: greedy answers equal in-process generation, per adapter. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CompletionsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> PROMPTS = List.of("the film was very", "i liked this movie but", "a long slow story");

    @TempDir
    static Path tmp;
    private Backend backend;
    private PeftModelFactory factory;
    private Path folder;
    private Path root;
    private PeftServer server;
    private final HttpClient client = HttpClient.newHttpClient();
    /** model to the ids greedy decoding gives for each prompt, 6 new tokens. */
    private final Map<String, long[][]> expected = new HashMap<>();

    @BeforeAll
    void start() throws Exception {
        backend = Peft.backend("djl");
        factory = Peft.factory(backend);
        folder = TinyGpt2.write(tmp.resolve("tiny-gpt2"), TinyGpt2.weights(3));
        TinyGpt2.writeTokenizer(folder);
        root = tmp.resolve("adapters");
        for (int i = 1; i <= 2; i++) {
            PeftModel peft = factory.create(PretrainedDecoder.load(backend, folder), 10 + i);
            peft.addAdapter("default", LoraConfig.builder().r(4).loraAlpha(32).targetModules("c_attn").fanInFanOut(true)
                    .taskType(TaskType.CAUSAL_LM).initLoraWeights(LoraConfig.InitLoraWeights.RANDOM).build());
            peft.save(root.resolve("l" + i), "default");
        }
        try (Tokenizer tok = Tokenizer.fromFile(folder.resolve("tokenizer.json"))) {
            for (String model : List.of("tiny-gpt2", "l1", "l2")) {
                CausalLM lm = PretrainedDecoder.load(backend, folder);
                if (!model.equals("tiny-gpt2")) {
                    factory.create(lm, 1).loadAdapter("default", AdapterFiles.load(root.resolve(model), factory.registry()));
                }
                long[][] ids = new long[PROMPTS.size()][];
                for (int p = 0; p < PROMPTS.size(); p++) {
                    ids[p] = lm.generate(tok.encode(List.of(PROMPTS.get(p)), 16).ids(0), 6, lm.eosTokenIds());
                }
                expected.put(model, ids);
            }
        }
        server = PeftServer.startDecoder(folder, factory, ServeOptions.defaults().withPort(0).withAdapterDir(root),
                Map.of("l1", root.resolve("l1")));
    }

    @AfterAll
    void stop() {
        server.close();
        backend.close();
    }

    private HttpResponse<String> post(String path, Object body) throws Exception {
        return client.send(HttpRequest.newBuilder(server.uri().resolve(path)).timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static long[] ids(JsonNode array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asLong();
        }
        return out;
    }

    @Test
    void concurrentCompletionsOverAdaptersEqualInProcessGreedyDecoding() throws Exception {
        assertThat(Arrays.deepEquals(expected.get("l1"), expected.get("tiny-gpt2"))).as("the adapters change the output").isFalse();
        ExecutorService pool = Executors.newFixedThreadPool(6);
        List<Future<String>> results = new ArrayList<>();
        for (int c = 0; c < 6; c++) {
            int client = c;
            results.add(pool.submit(() -> {
                for (int k = 0; k < 6; k++) {
                    String model = List.of("tiny-gpt2", "l1", "l2").get((client + k) % 3);
                    int p = (client + 2 * k) % PROMPTS.size();
                    HttpResponse<String> r = post("/v1/completions", Map.of("model", model, "prompt", PROMPTS.get(p),
                            "max_tokens", 6));
                    if (r.statusCode() != 200) {
                        return r.body();
                    }
                    JsonNode body = JSON.readTree(r.body());
                    JsonNode choice = body.path("choices").get(0);
                    long[] got = ids(choice.path("token_ids"));
                    if (!Arrays.equals(got, expected.get(model)[p])) {
                        return model + " prompt " + p + ": " + Arrays.toString(got) + " vs "
                                + Arrays.toString(expected.get(model)[p]);
                    }
                    if (body.path("usage").path("completion_tokens").asInt() != got.length
                            || !body.path("object").asText().equals("text_completion")
                            || !List.of("stop", "length").contains(choice.path("finish_reason").asText())) {
                        return "not OpenAI-shaped: " + r.body();
                    }
                }
                return null;
            }));
        }
        pool.shutdown();
        for (Future<String> f : results) {
            assertThat(f.get(120, TimeUnit.SECONDS)).isNull();
        }
    }

    @Test
    void promptsMayBeTokenIdsAndTheTextIsDecoded() throws Exception {
        HttpResponse<String> r = post("/v1/completions", Map.of("model", "l2", "prompt", List.of(1, 5, 16), "max_tokens", 4));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode choice = JSON.readTree(r.body()).path("choices").get(0);
        assertThat(choice.path("token_ids").size()).isBetween(1, 4);
        String text = choice.path("text").asText();
        for (String word : text.split(" ")) {
            if (!word.isEmpty()) {
                assertThat(List.of(TinyGpt2.WORDS)).contains(word);
            }
        }
    }

    @Test
    void badCompletionRequestsGetClearErrors() throws Exception {
        assertThat(post("/v1/completions", Map.of("model", "l1")).body()).contains("missing field 'prompt'");
        HttpResponse<String> tooLong = post("/v1/completions", Map.of("model", "l1", "prompt", "the film", "max_tokens", 100));
        assertThat(tooLong.statusCode()).isEqualTo(400);
        assertThat(tooLong.body()).contains("16 positions");
        HttpResponse<String> badId = post("/v1/completions", Map.of("model", "l1", "prompt", List.of(1, 64)));
        assertThat(badId.statusCode()).isEqualTo(400);
        assertThat(badId.body()).contains("[0, 64)");
        assertThat(post("/v1/completions", Map.of("model", "l1", "prompt", "x", "max_tokens", -1)).body())
                .contains("max_tokens");
        HttpResponse<String> embeddings = post("/v1/embeddings", Map.of("model", "l1", "input", "x"));
        assertThat(embeddings.statusCode()).isEqualTo(400);
        assertThat(embeddings.body()).contains("decoder", "/v1/completions");
        assertThat(post("/v1/completions", Map.of("model", "nope", "prompt", "x")).statusCode()).isEqualTo(404);
    }
}
