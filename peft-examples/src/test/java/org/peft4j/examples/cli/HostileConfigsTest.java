package org.peft4j.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModel;
import org.peft4j.core.PeftRegistry;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.core.io.PeftJson;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.bert.BertForSequenceClassification;
import org.peft4j.models.bert.TinyBert;

/**
 * Configs from strangers cost nothing: an adapter file whose config asks for other or absurd
 * sizes, and every numeric or list key of every installed method set to a hostile value, end in
 * success or a one-line PeftException before any large allocation. The model is left as it was.
 * Memory is bounded: the whole fuzz run may raise the JVM's resident memory by at most 1 GB (a
 * single rank-200000 LoRA on MiniLM would take 8.5 GB).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HostileConfigsTest {
    private static final String[] METHODS = {"lora", "adapter", "ia3", "prefix", "prompt", "p_tuning"};
    /** Keys the defaults leave out but a stranger may set, per peft_type. */
    private static final Map<String, String[]> EXTRA_KEYS = Map.of(
            "LORA", new String[] {"rank_pattern", "alpha_pattern", "layers_to_transform", "init_lora_weights"},
            "BOTTLENECK", new String[] {"reduction_factor", "bottleneck_size", "scaling", "leave_out", "non_linearity"},
            "IA3", new String[] {"init_ia3_weights"},
            "PREFIX_TUNING", new String[] {"token_dim", "num_layers", "num_attention_heads", "encoder_hidden_size"},
            "PROMPT_TUNING", new String[] {"token_dim", "prompt_tuning_init"},
            "P_TUNING", new String[] {"token_dim", "encoder_num_layers", "encoder_dropout", "encoder_reparameterization_type"});
    private static final String[] VALUES = {"0", "-1", "2147483647", "2147483648", "1099511627776", "\"NaN\"",
            "\"x\"", "true", "null", "[]", "[\"query\", \"query\"]", "[\"nope\"]", "{\"query\": 1000000000}", "1.5"};

    @TempDir
    Path dir;
    private Backend backend;

    @BeforeAll
    void open() {
        backend = Peft.backend("djl");
    }

    @AfterAll
    void close() {
        backend.close();
    }

    private PeftModel fresh() {
        return new PeftModel(TinyBert.model(backend), Peft.registry(), 3);
    }

    @Test
    void everyKeyOfEveryMethodSetToAHostileValueGivesAnAdapterOrAPeftException() {
        PeftRegistry registry = Peft.registry();
        long rssBefore = residentBytes();
        long heapBefore = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        int added = 0;
        int refused = 0;
        List<String> cases = new ArrayList<>();
        for (String method : METHODS) {
            ObjectNode base = MethodConfigs.defaults(method, null);
            List<String> keys = new ArrayList<>();
            base.fieldNames().forEachRemaining(keys::add);
            keys.addAll(List.of(EXTRA_KEYS.get(base.get("peft_type").asText())));
            keys.remove("peft_type");
            for (String key : keys) {
                for (String value : VALUES) {
                    ObjectNode json = base.deepCopy();
                    json.set(key, parse(value));
                    String label = method + " " + key + "=" + value;
                    cases.add(label);
                    PeftModel model = fresh();
                    try (Scope s = backend.scope()) {
                        PeftConfig config = registry.parseConfig(json.toString());
                        model.addAdapter("default", config);
                        model.infer(() -> ((BertForSequenceClassification) model.model()).forward(
                                backend.fromLongs(TinyBert.IDS, 4, 5), backend.fromFloats(TinyBert.MASK, 4, 5), null));
                        added++;
                    } catch (PeftException e) {
                        assertThat(e.getMessage()).as(label).isNotBlank().doesNotContain("\n");
                        assertThat(model.adapters()).as(label + ": a refused adapter leaves nothing").isEmpty();
                        refused++;
                    } catch (RuntimeException | Error e) {
                        throw new AssertionError(label + " escaped as " + e, e);
                    }
                    long grown = residentBytes() - rssBefore;
                    assertThat(grown).as(label + ": resident memory growth").isLessThan(1L << 30);
                }
            }
        }
        long heapGrowth = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed() - heapBefore;
        assertThat(heapGrowth).as("heap growth over the whole run").isLessThan(512L << 20);
        // both outcomes must be exercised, or the test proves nothing
        assertThat(added).as("of %d cases", cases.size()).isGreaterThan(50);
        assertThat(refused).as("of %d cases", cases.size()).isGreaterThan(150);
    }

    private static JsonNode parse(String value) {
        try {
            return PeftJson.mapper().readTree(value);
        } catch (IOException e) {
            throw new IllegalArgumentException(value, e);
        }
    }

    /** This JVM's resident memory (Linux), or 0 where it cannot be read. */
    private static long residentBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
        return 0;
    }

    /** A good rank-4 LoRA adapter folder on query and value, whose config then gets {@code key = value}. */
    private Path adapterWith(String key, Object value) throws IOException {
        PeftModel m = fresh();
        m.addAdapter("default", LoraConfig.builder().r(4).targetModules("query", "value").build());
        m.save(dir, "default");
        Path config = dir.resolve(AdapterFiles.CONFIG_FILE);
        ObjectNode json = (ObjectNode) PeftJson.mapper().readTree(config.toFile());
        json.set(key, PeftJson.mapper().valueToTree(value));
        Files.writeString(config, json.toString());
        return dir;
    }

    @Test
    void aConfigAskingForAHugeRankIsRefusedBeforeAnythingIsMade() throws IOException {
        for (int r : new int[] {2_000_000, 200_000, 5}) {
            Path folder = adapterWith("r", r);
            PeftModel m = fresh();
            Map<String, Object> before = new LinkedHashMap<>(m.model().namedModules());
            long start = System.nanoTime();
            assertThatThrownBy(() -> m.loadAdapter("default", folder)).isInstanceOf(PeftException.class)
                    .hasMessageContaining("r=" + r)
                    .hasMessageContaining("encoder.layer.0.attention.self.query.lora_A.weight is [4, 16] in the file")
                    .hasMessageContaining("makes it [" + r + ", 16]");
            assertThat((System.nanoTime() - start) / 1e9).as("seconds to refuse r=" + r + " (no hang)").isLessThan(5.0);
            assertThat(m.model().namedModules()).isEqualTo(before);
            assertThat(m.adapters()).isEmpty();
        }
    }

    @Test
    void anAdapterOverTheBudgetIsRefusedWithBothSizes() {
        PeftModel m = fresh();
        long base = m.adapterBudget();
        assertThat(base).as("the default budget is the base model's size").isEqualTo(m.parameterCount().total());
        LoraConfig huge = LoraConfig.builder().r(50_000).targetModules("query", "value").build();
        assertThatThrownBy(() -> m.addAdapter("big", huge)).isInstanceOf(PeftException.class)
                .hasMessageContaining("would hold 6,400,000 elements")
                .hasMessageContaining(String.format(java.util.Locale.ROOT, "budget of %,d elements", base))
                .hasMessageContaining("r=50000");
        assertThat(m.adapters()).isEmpty();
        m.setAdapterBudget(10_000_000);
        m.addAdapter("big", huge);
        assertThat(m.parameterCount().trainable()).isEqualTo(6_400_000);
        assertThatThrownBy(() -> m.setAdapterBudget(0)).isInstanceOf(PeftException.class);
    }

    @Test
    void aFileMissingManyTensorsIsSummarisedInOneShortLine() throws IOException {
        Path folder = adapterWith("target_modules", List.of("query", "value", "key", "dense"));
        PeftModel m = fresh();
        assertThatThrownBy(() -> m.loadAdapter("default", folder)).isInstanceOf(PeftException.class)
                .hasMessageContaining("the file lacks 16 tensors [")
                .hasMessageContaining(", ...]")
                .hasMessageContaining("holds nothing the config does not")
                .satisfies(e -> assertThat(e.getMessage().length()).isLessThan(400));
    }

    @Test
    void theCliFlagSetsTheBudgetOfEveryModelItMakes() {
        try (Wiring wiring = Wiring.of("djl", 10L)) {
            PeftModel m = wiring.factory().create(TinyBert.model(wiring.backend()), 1);
            assertThat(m.adapterBudget()).isEqualTo(10);
            assertThatThrownBy(() -> m.addAdapter("default", LoraConfig.builder().r(1).targetModules("query").build()))
                    .isInstanceOf(PeftException.class).hasMessageContaining("budget of 10 elements");
        }
        assertThat(new picocli.CommandLine(new PeftCli()).getSubcommands().get("eval").getCommandSpec()
                .findOption("--max-adapter-elements")).isNotNull();
    }
}
