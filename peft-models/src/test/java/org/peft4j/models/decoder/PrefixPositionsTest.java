package org.peft4j.models.decoder;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.core.Peft;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.KeyValuePrefix;
import org.peft4j.api.nn.Module;
import org.peft4j.models.PretrainedDecoder;
import org.peft4j.testkit.Reference;
import org.peft4j.testkit.TinyGpt2;
import org.peft4j.testkit.TinyLlama;

/**
 * Prefix tuning's positions are HF's: a learned prefix acts exactly like cached earlier tokens.
 * With the prefix set to the keys and values the model itself cached for tokens c, the logits
 * for tokens x equal those of the full sequence c + x at x's positions; this holds only if x
 * starts at position |c|, as in HF where PEFT passes the prefix as {@code past_key_values}.
 */
class PrefixPositionsTest {
    private static final long[] CONTEXT = {3, 17, 42, 8, 25};
    private static final long[] TOKENS = {1, 7, 23, 5, 60, 12};

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama"})
    void aPrefixBehavesAsCachedTokens(String model) {
        Path folder = model.equals("gpt2") ? TinyGpt2.write(dir.resolve(model), TinyGpt2.weights(8))
                : TinyLlama.write(dir.resolve(model), TinyLlama.weights(8));
        try (Backend b = Peft.backend("djl"); Scope s = b.scope(); KvCache cache = PretrainedDecoder.load(b, folder).newCache()) {
            CausalLM lm = PretrainedDecoder.load(b, folder);
            lm.setTraining(false);
            long[] all = Arrays.copyOf(CONTEXT, CONTEXT.length + TOKENS.length);
            System.arraycopy(TOKENS, 0, all, CONTEXT.length, TOKENS.length);
            float[] full = lm.forward(b.fromLongs(all, 1, all.length), null, null).toFloatArray();

            lm.forward(b.fromLongs(CONTEXT, 1, CONTEXT.length), null, cache);
            KeyValuePrefix prefix = new KeyValuePrefix() {
                @Override
                public long length() {
                    return CONTEXT.length;
                }

                @Override
                public Tensor[] keysAndValues(int layer, long batch) {
                    return cache.layer(layer);
                }
            };
            for (Module m : lm.namedModules().values()) {
                if (m instanceof KeyValuePrefix.Attention a) {
                    a.setPrefix(prefix);
                }
            }
            float[] prefixed = lm.forward(b.fromLongs(TOKENS, 1, TOKENS.length), null, null).toFloatArray();
            float[] tail = Arrays.copyOfRange(full, full.length - prefixed.length, full.length);
            assertThat(Reference.maxAbsDiff(tail, prefixed)).isLessThan(1e-4f);
        }
    }
}
