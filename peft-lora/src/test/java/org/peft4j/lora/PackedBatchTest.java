package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModel;
import org.peft4j.core.tuner.RowAdapters;
import org.peft4j.models.bert.BertForSequenceClassification;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.bert.PackedBatch;
import org.peft4j.models.bert.TinyBert;
import org.peft4j.testkit.Reference;

/**
 * Texts packed back to back into a few sequences ({@link PackedBatch}), each token routed to its
 * text's LoRA adapter, get what each text gets alone with only its adapter: mean-pooled states and
 * the first ([CLS]) token's state. (The pooler on top, with per-text routing, is checked by the
 * server's tests on MiniLM.)
 */
class PackedBatchTest {
    private static final int[] LENGTHS = {3, 7, 2, 9, 5, 4};
    private static final List<String> ROUTE = List.of("a", RowAdapters.BASE, "b", "a", "b", RowAdapters.BASE);

    /** rank 2: the adapters' A and B stacked into one product per layer; rank 4: too wide for that, row groups. */
    @ParameterizedTest
    @CsvSource({"djl,2", "djl,4", "nd4j,2", "nd4j,4"})
    void packedTextsEqualEachTextAloneWithItsOwnAdapter(String backend, int rank) {
        try (Backend b = Peft.backend(backend); Scope s = b.scope()) {
            PeftModel m = TinyBert.plain(b);
            m.addAdapter("a", random(rank, "query", "value", "dense"));
            m.addAdapter("b", random(rank, "query", "dense"));
            m.model().setTraining(false);
            BertModel bert = ((BertForSequenceClassification) m.model()).bert();
            List<long[]> ids = new ArrayList<>();
            List<long[]> types = new ArrayList<>();
            for (int i = 0; i < LENGTHS.length; i++) {
                long[] t = new long[LENGTHS[i]];
                long[] y = new long[LENGTHS[i]];
                for (int p = 0; p < t.length; p++) {
                    t[p] = p == 0 ? 1 : p == t.length - 1 ? 2 : 3 + (7L * i + 5L * p) % 45;
                    y[p] = p > t.length / 2 ? 1 : 0;
                }
                ids.add(t);
                types.add(y);
            }
            // capacity 10: four sequences (9, 7+3, 5+4, 2), padding at the tails of three
            PackedBatch packed = PackedBatch.of(ids, types, 10);
            assertThat(packed.shape()).containsExactly(4, 10);

            Tensor h = m.withRowAdapters(packed.perPosition(ROUTE, RowAdapters.BASE), () -> bert.forward(packed));
            float[] mean = packed.meanPooled(h).toFloatArray();
            float[] first = packed.firstTokens(h).toFloatArray();
            int hidden = (int) TinyBert.HIDDEN;
            float[][] alone = new float[LENGTHS.length][];
            for (int i = 0; i < LENGTHS.length; i++) {
                int n = LENGTHS[i];
                long[] shape = {1, n};
                long[] textIds = ids.get(i);
                long[] textTypes = types.get(i);
                Tensor one = m.withRowAdapters(List.of(ROUTE.get(i)), () -> bert.forward(b.fromLongs(textIds, shape),
                        b.full(1f, 1, n), b.fromLongs(textTypes, shape)));
                alone[i] = BertModel.meanPool(one, b.full(1f, 1, n)).toFloatArray();
                float[] aloneFirst = one.slice(1, 0, 1).toFloatArray();
                assertThat(Reference.maxAbsDiff(slice(mean, i, hidden), alone[i])).as("mean of text %d", i).isLessThan(1e-5f);
                assertThat(Reference.maxAbsDiff(slice(first, i, hidden), aloneFirst)).as("[CLS] of text %d", i).isLessThan(1e-5f);
            }
            // the adapters change the result, so the routing is what the comparison above checks
            int[] routedA = {0, 3};
            for (int i : routedA) {
                float[] base = m.withRowAdapters(List.of(RowAdapters.BASE), () -> BertModel.meanPool(bert.forward(
                        b.fromLongs(ids.get(i), 1, LENGTHS[i]), b.full(1f, 1, LENGTHS[i]),
                        b.fromLongs(types.get(i), 1, LENGTHS[i])), b.full(1f, 1, LENGTHS[i]))).toFloatArray();
                assertThat(Reference.maxAbsDiff(alone[i], base)).isGreaterThan(1e-3f);
            }
            assertThatThrownBy(() -> m.withRowAdapters(ROUTE, () -> bert.forward(packed)))
                    .isInstanceOf(PeftException.class).hasMessageContaining("6 rows");
        }
    }

    private static float[] slice(float[] rows, int i, int width) {
        float[] out = new float[width];
        System.arraycopy(rows, i * width, out, 0, width);
        return out;
    }

    private static LoraConfig random(int r, String... targets) {
        return LoraConfig.builder().r(r).loraAlpha(2 * r).targetModules(targets)
                .initLoraWeights(LoraConfig.InitLoraWeights.RANDOM).build();
    }
}
