package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.peft4j.api.PeftException;
import org.peft4j.core.PeftRegistry;

/**
 * Seeded mutations of a real {@code adapter_config.json}: every outcome is a bound config or a
 * {@link PeftException}; nothing else escapes (no Jackson, NumberFormat or NullPointer exceptions).
 */
class ConfigFuzzTest {
    private static final String VALID = """
            {"peft_type": "LORA", "task_type": "SEQ_CLS", "r": 8, "lora_alpha": 16, "lora_dropout": 0.1,
             "target_modules": ["query", "value"], "modules_to_save": ["classifier"], "bias": "none",
             "init_lora_weights": true, "use_rslora": false, "rank_pattern": {"query": 4},
             "alpha_pattern": {}, "layers_to_transform": [0, 1], "inference_mode": true, "lora_bias": false}
            """;
    private static final String[] TOKENS = {"null", "-1", "0", "1e309", "\"\"", "[]", "{}", "true", "\"x\"",
            "9999999999999999999999", "NaN", "\"all-linear\"", "[1,", "\"\\u0000\"", "{\"a\":"};

    @Test
    void mutatedConfigsGiveAConfigOrAPeftException() {
        PeftRegistry registry = PeftRegistry.discover();
        Random rnd = new Random(20261124L);
        int bound = 0;
        int rejected = 0;
        for (int i = 0; i < 3000; i++) {
            String text = mutate(VALID, rnd);
            try {
                assertThat(registry.parseConfig(text)).isInstanceOf(LoraConfig.class);
                bound++;
            } catch (PeftException e) {
                assertThat(e.getMessage()).isNotBlank();
                rejected++;
            } catch (RuntimeException | StackOverflowError e) {
                throw new AssertionError("mutation " + i + " escaped as " + e + " for input: " + text, e);
            }
        }
        // the mutator must exercise both paths, or the test proves nothing
        assertThat(bound).isGreaterThan(50);
        assertThat(rejected).isGreaterThan(500);
    }

    private static String mutate(String s, Random rnd) {
        StringBuilder b = new StringBuilder(s);
        int edits = 1 + rnd.nextInt(3);
        for (int e = 0; e < edits && b.length() > 0; e++) {
            int at = rnd.nextInt(b.length());
            switch (rnd.nextInt(5)) {
                case 0 -> b.deleteCharAt(at);
                case 1 -> b.insert(at, (char) (32 + rnd.nextInt(95)));
                case 2 -> b.setLength(at); // truncation
                case 3 -> {
                    // replace one JSON value after a colon with a hostile token
                    int colon = b.indexOf(":", at);
                    if (colon >= 0) {
                        int end = colon + 1;
                        while (end < b.length() && ",}".indexOf(b.charAt(end)) < 0) {
                            end++;
                        }
                        b.replace(colon + 1, end, TOKENS[rnd.nextInt(TOKENS.length)]);
                    }
                }
                default -> b.setCharAt(at, (char) (32 + rnd.nextInt(95)));
            }
        }
        return b.toString();
    }

    @Test
    void deeplyNestedJsonIsRefusedNotAStackOverflow() {
        String deep = "{\"peft_type\": \"LORA\", \"x\": " + "[".repeat(200_000) + "]".repeat(200_000) + "}";
        assertThatThrownBy(() -> PeftRegistry.discover().parseConfig(deep)).isInstanceOf(PeftException.class)
                .hasMessageContaining("nesting depth");
    }
}
