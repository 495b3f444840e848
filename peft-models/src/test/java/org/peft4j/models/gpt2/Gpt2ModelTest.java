package org.peft4j.models.gpt2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.core.Peft;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.core.io.HostTensor;
import org.peft4j.models.DecoderTesting;
import org.peft4j.models.PretrainedDecoder;
import org.peft4j.models.decoder.CausalLM;
import org.peft4j.models.decoder.KvCache;
import org.peft4j.testkit.Gpt2Reference;
import org.peft4j.testkit.Reference;
import org.peft4j.testkit.TinyGpt2;

/**
 * GPT-2 on a tiny random checkpoint written as an HF folder: equal to a plain-Java transcription
 * of HF's forward pass (Conv1D layout, fused c_attn, gelu_new, tied head), both checkpoint
 * namings, causality, KV cache, padding, backends agreeing, and clear errors.
 */
class Gpt2ModelTest {
    private static final long[] TOKENS = {1, 7, 23, 5, 60, 12, 3, 44, 9, 31};

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void matchesHfForwardWrittenOutByHand(String name) {
        Map<String, HostTensor> weights = TinyGpt2.weights(1);
        float[] expected = new Gpt2Reference(weights, TinyGpt2.EMBD, TinyGpt2.HEADS, TinyGpt2.LAYERS).logits(TOKENS);
        try (Backend b = Peft.backend(name)) {
            CausalLM m = PretrainedDecoder.load(b, TinyGpt2.write(dir.resolve("m"), weights));
            assertThat(m).isInstanceOf(Gpt2LMHeadModel.class);
            m.setTraining(false);
            float[] ours = DecoderTesting.logits(m, TOKENS);
            assertThat(ours).hasSameSizeAs(expected);
            assertThat(Reference.maxAbsDiff(ours, expected, 0, ours.length)).isLessThan(1e-4f);
        }
    }

    @Test
    void readsTransformerPrefixedNamesAndAnUntiedHead() throws IOException {
        Map<String, HostTensor> weights = TinyGpt2.weights(2);
        Map<String, HostTensor> prefixed = new LinkedHashMap<>();
        weights.forEach((k, v) -> prefixed.put("transformer." + k, v));
        prefixed.put("lm_head.weight", weights.get("wte.weight"));
        Path untied = TinyGpt2.write(dir.resolve("untied"), prefixed);
        Files.writeString(untied.resolve("config.json"),
                TinyGpt2.CONFIG.replace("\"n_layer\"", "\"tie_word_embeddings\": false, \"n_layer\""));
        try (Backend b = Peft.backend("djl")) {
            CausalLM plain = PretrainedDecoder.load(b, TinyGpt2.write(dir.resolve("plain"), weights));
            CausalLM head = PretrainedDecoder.load(b, untied);
            plain.setTraining(false);
            head.setTraining(false);
            assertThat(head.children()).containsKey("lm_head");
            assertThat(Reference.maxAbsDiff(DecoderTesting.logits(plain, TOKENS), DecoderTesting.logits(head, TOKENS)))
                    .isLessThan(1e-5f);
        }
    }

    @Test
    void laterTokensDoNotChangeEarlierOutputsTheCacheEqualsAFullForwardAndBackendsAgree() {
        Path folder = TinyGpt2.write(dir.resolve("m"), TinyGpt2.weights(3));
        float[] djl = null;
        for (String name : new String[] {"djl", "nd4j"}) {
            try (Backend b = Peft.backend(name)) {
                CausalLM m = PretrainedDecoder.load(b, folder);
                m.setTraining(false);
                float[] full = DecoderTesting.logits(m, TOKENS);
                long[] changed = TOKENS.clone();
                changed[6] = 50;
                float[] other = DecoderTesting.logits(m, changed);
                int v = TinyGpt2.VOCAB;
                assertThat(Reference.maxAbsDiff(full, other, 0, 6 * v)).isEqualTo(0f);
                assertThat(Reference.maxAbsDiff(full, other, 6 * v, 7 * v)).isGreaterThan(1e-4f);

                float[] cached = new float[full.length];
                try (KvCache cache = m.newCache()) {
                    try (Scope s = b.scope()) {
                        float[] first = m.forward(b.fromLongs(Arrays.copyOf(TOKENS, 6), 1, 6), null, cache).toFloatArray();
                        System.arraycopy(first, 0, cached, 0, first.length);
                    }
                    for (int t = 6; t < TOKENS.length; t++) {
                        try (Scope s = b.scope()) {
                            float[] step = m.forward(b.fromLongs(new long[] {TOKENS[t]}, 1, 1), null, cache).toFloatArray();
                            System.arraycopy(step, 0, cached, t * v, v);
                        }
                    }
                }
                assertThat(Reference.maxAbsDiff(full, cached, 0, full.length)).isLessThan(1e-4f);
                if (djl == null) {
                    djl = full;
                } else {
                    assertThat(Reference.maxAbsDiff(djl, full, 0, full.length)).isLessThan(1e-4f);
                }
            }
        }
    }

    @Test
    void rightPaddingDoesNotChangeTheRealTokens() {
        try (Backend b = Peft.backend("djl"); Scope s = b.scope()) {
            CausalLM m = PretrainedDecoder.load(b, TinyGpt2.write(dir.resolve("m"), TinyGpt2.weights(4)));
            m.setTraining(false);
            long[] ids = new long[20];
            long[] mask = new long[20];
            System.arraycopy(TOKENS, 0, ids, 0, 10);
            System.arraycopy(TOKENS, 0, ids, 10, 6);
            Arrays.fill(mask, 0, 16, 1);
            float[] batch = m.forward(b.fromLongs(ids, 2, 10), mask, null).toFloatArray();
            float[] alone = DecoderTesting.logits(m, Arrays.copyOf(TOKENS, 6));
            int v = TinyGpt2.VOCAB;
            assertThat(Reference.maxAbsDiff(Arrays.copyOfRange(batch, 10 * v, 16 * v), alone, 0, 6 * v)).isLessThan(1e-5f);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void lossIsTheMeanNextTokenCrossEntropyOverUnpaddedTargets(String name) {
        try (Backend b = Peft.backend(name); Scope s = b.scope()) {
            CausalLM m = PretrainedDecoder.load(b, TinyGpt2.write(dir.resolve("m"), TinyGpt2.weights(7)));
            m.setTraining(false);
            long[] ids = {1, 7, 23, 5, 60, 12, 3, 44, 9, 31, 0, 0};
            long[] mask = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
            float[] logits = m.forward(b.fromLongs(ids, 2, 6), mask, null).toFloatArray();
            int v = TinyGpt2.VOCAB;
            double sum = 0;
            int n = 0;
            for (int r = 0; r < 2; r++) {
                for (int t = 0; t < 5; t++) {
                    int target = r * 6 + t + 1;
                    if (mask[target] == 0) {
                        continue;
                    }
                    int row = (r * 6 + t) * v;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int k = 0; k < v; k++) {
                        max = Math.max(max, logits[row + k]);
                    }
                    double z = 0;
                    for (int k = 0; k < v; k++) {
                        z += Math.exp(logits[row + k] - max);
                    }
                    sum -= logits[row + (int) ids[target]] - max - Math.log(z);
                    n++;
                }
            }
            assertThat(n).isEqualTo(8);
            assertThat(m.loss(b.fromLongs(ids, 2, 6), mask).item()).isCloseTo((float) (sum / n),
                    org.assertj.core.data.Offset.offset(1e-5f));
        }
    }

    @Test
    void generationStopsAtTheConfigsEndOfSequenceIds() throws IOException {
        Path folder = TinyGpt2.write(dir.resolve("m"), TinyGpt2.weights(6));
        try (Backend b = Peft.backend("djl")) {
            CausalLM m = PretrainedDecoder.load(b, folder);
            assertThat(m.eosTokenIds()).containsExactly(0L);
            long[] free = m.generate(new long[] {1, 7, 23}, 5, -1);
            assertThat(free).hasSize(5);
            // the first generated token as the stop id: generation ends right after it
            assertThat(m.generate(new long[] {1, 7, 23}, 5, java.util.List.of(free[0]))).containsExactly(free[0]);

            Files.writeString(folder.resolve("config.json"), TinyGpt2.CONFIG.replace("\"eos_token_id\": 0", "\"eos_token_id\": [5, 9]"));
            assertThat(PretrainedDecoder.load(b, folder).eosTokenIds()).containsExactly(5L, 9L);
        }
    }

    @Test
    void badFoldersAndInputsFailClearly() throws IOException {
        Path folder = TinyGpt2.write(dir.resolve("m"), TinyGpt2.weights(5));
        try (Backend b = Peft.backend("djl"); Scope s = b.scope()) {
            CausalLM m = PretrainedDecoder.load(b, folder);
            assertThatThrownBy(() -> m.forward(b.fromLongs(new long[17], 1, 17), null, null))
                    .isInstanceOf(PeftException.class).hasMessageContaining("17 positions").hasMessageContaining("16");

            Files.writeString(folder.resolve("config.json"), TinyGpt2.CONFIG.replace("gelu_new", "swiglu"));
            assertThatThrownBy(() -> PretrainedDecoder.load(b, folder))
                    .isInstanceOf(PeftException.class).hasMessageContaining("swiglu").hasMessageContaining("gelu_new");

            Files.writeString(folder.resolve("config.json"), TinyGpt2.CONFIG.replace("\"gpt2\"", "\"falcon\""));
            assertThatThrownBy(() -> PretrainedDecoder.load(b, folder))
                    .isInstanceOf(PeftException.class).hasMessageContaining("falcon").hasMessageContaining("[gpt2, llama]");

            Map<String, HostTensor> w = TinyGpt2.weights(5);
            w.remove("h.1.mlp.c_fc.weight");
            Files.writeString(folder.resolve("config.json"), TinyGpt2.CONFIG);
            TinyGpt2.write(folder, w);
            assertThatThrownBy(() -> PretrainedDecoder.load(b, folder))
                    .isInstanceOf(PeftException.class).hasMessageContaining("transformer.h.1.mlp.c_fc.weight");
        }
    }
}
