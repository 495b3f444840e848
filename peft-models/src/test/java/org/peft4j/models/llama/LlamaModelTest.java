package org.peft4j.models.llama;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import org.peft4j.testkit.Reference;
import org.peft4j.testkit.TinyLlama;

/** The LLaMA decoder on a tiny random model written as an HF folder: causality, KV cache, backends, generate. */
class LlamaModelTest {
    private static final long[] TOKENS = {1, 7, 23, 5, 60, 12, 3, 44, 9, 31};

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void laterTokensDoNotChangeEarlierOutputsAndTheCacheEqualsAFullForward(String name) {
        Path folder = TinyLlama.write(dir.resolve("m"), TinyLlama.weights(1));
        try (Backend b = Peft.backend(name)) {
            CausalLM m = PretrainedDecoder.load(b, folder);
            float[] full = DecoderTesting.logits(m, TOKENS);
            long[] changed = TOKENS.clone();
            changed[6] = 50;
            changed[9] = 2;
            float[] other = DecoderTesting.logits(m, changed);
            int v = TinyLlama.VOCAB;
            assertThat(Reference.maxAbsDiff(full, other, 0, 6 * v)).isEqualTo(0f);
            assertThat(Reference.maxAbsDiff(full, other, 6 * v, 7 * v)).isGreaterThan(1e-4f);

            // 6 tokens at once, then one at a time through the cache
            float[] cached = new float[full.length];
            try (KvCache cache = new KvCache(b, TinyLlama.LAYERS)) {
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
                assertThat(cache.length()).isEqualTo(TOKENS.length);
            }
            assertThat(Reference.maxAbsDiff(full, cached, 0, full.length)).isLessThan(1e-4f);

            // greedy generation equals argmax stepping with full forwards
            long[] generated = m.generate(Arrays.copyOf(TOKENS, 4), 5, -1);
            long[] seq = Arrays.copyOf(TOKENS, 4);
            for (int i = 0; i < 5; i++) {
                float[] l = DecoderTesting.logits(m, seq);
                int best = 0;
                for (int k = 1; k < v; k++) {
                    if (l[(seq.length - 1) * v + k] > l[(seq.length - 1) * v + best]) {
                        best = k;
                    }
                }
                assertThat(generated[i]).as("token %d", i).isEqualTo(best);
                seq = Arrays.copyOf(seq, seq.length + 1);
                seq[seq.length - 1] = best;
            }
        }
    }

    @Test
    void bothBackendsAgreeAndPaddingIsMasked() {
        Path folder = TinyLlama.write(dir.resolve("m"), TinyLlama.weights(2));
        float[] djl;
        float[] nd4j;
        try (Backend b = Peft.backend("djl")) {
            djl = DecoderTesting.logits(PretrainedDecoder.load(b, folder), TOKENS);
        }
        try (Backend b = Peft.backend("nd4j")) {
            nd4j = DecoderTesting.logits(PretrainedDecoder.load(b, folder), TOKENS);
        }
        assertThat(Reference.maxAbsDiff(djl, nd4j, 0, djl.length)).isLessThan(1e-4f);

        // a right-padded batch: the real row's outputs equal those of the row alone
        try (Backend b = Peft.backend("djl"); Scope s = b.scope()) {
            CausalLM m = PretrainedDecoder.load(b, folder);
            long[] ids = new long[20];
            System.arraycopy(TOKENS, 0, ids, 0, 10);
            System.arraycopy(TOKENS, 0, ids, 10, 6);
            long[] mask = new long[20];
            Arrays.fill(mask, 0, 16, 1);
            float[] batch = m.forward(b.fromLongs(ids, 2, 10), mask, null).toFloatArray();
            float[] alone = DecoderTesting.logits(m, Arrays.copyOf(TOKENS, 6));
            int v = TinyLlama.VOCAB;
            assertThat(Reference.maxAbsDiff(Arrays.copyOfRange(batch, 10 * v, 16 * v), alone, 0, alone.length)).isLessThan(1e-4f);
        }
    }

    @Test
    void aMissingOrMisshapedWeightIsNamed() {
        Map<String, HostTensor> missing = new LinkedHashMap<>(TinyLlama.weights(1));
        missing.remove("model.layers.1.mlp.up_proj.weight");
        Map<String, HostTensor> misshaped = new LinkedHashMap<>(TinyLlama.weights(1));
        misshaped.put("model.layers.0.self_attn.k_proj.weight", new HostTensor(new long[] {32, 32}, new float[1024]));
        try (Backend b = Peft.backend("djl")) {
            assertThatThrownBy(() -> PretrainedDecoder.load(b, TinyLlama.write(dir.resolve("a"), missing)))
                    .isInstanceOf(PeftException.class).hasMessageContaining("model.layers.1.mlp.up_proj.weight");
            assertThatThrownBy(() -> PretrainedDecoder.load(b, TinyLlama.write(dir.resolve("b"), misshaped)))
                    .isInstanceOf(PeftException.class).hasMessageContaining("k_proj").hasMessageContaining("[16, 32]");
            assertThatThrownBy(() -> PretrainedDecoder.load(b, dir.resolve("none")))
                    .isInstanceOf(PeftException.class).hasMessageContaining("config.json");
        }
    }
}
