package org.peft4j.models.bert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.core.Peft;

/** How {@link PackedBatch} lays texts out, and what it refuses. (Its results: peft-lora's PackedBatchTest and the server's tests.) */
class PackedBatchTest {
    private static long[] text(int n, long first) {
        long[] t = new long[n];
        for (int i = 0; i < n; i++) {
            t[i] = first + i;
        }
        return t;
    }

    @Test
    void textsKeepTheirOwnPositionsAndSeeOnlyThemselves() {
        try (Backend b = Peft.backend("djl"); Scope s = b.scope()) {
            // 12 tokens, capacity 8: two sequences; longest first into the emptiest: 5 | 4 + 3
            PackedBatch p = PackedBatch.of(List.of(text(5, 10), text(3, 20), text(4, 30)),
                    List.of(new long[5], new long[] {0, 1, 1}, new long[4]), 8);
            assertThat(p.shape()).containsExactly(2, 7);
            assertThat(p.texts()).isEqualTo(3);
            assertThat(p.longestText()).isEqualTo(5);
            assertThat(p.inputIds(b).toLongArray()).containsExactly(10, 11, 12, 13, 14, 0, 0, 30, 31, 32, 33, 20, 21, 22);
            assertThat(p.positionIds(b).toLongArray()).containsExactly(0, 1, 2, 3, 4, 0, 0, 0, 1, 2, 3, 0, 1, 2);
            assertThat(p.tokenTypeIds(b).toLongArray()).containsExactly(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1);
            float[] mask = p.attentionMask(b).toFloatArray();
            // the second sequence's last query (text 1) sees its own three keys only
            assertThat(java.util.Arrays.copyOfRange(mask, 13 * 7, 14 * 7)).containsExactly(0, 0, 0, 0, 1, 1, 1);
            // a padding query sees itself, so its softmax has something to normalise
            assertThat(java.util.Arrays.copyOfRange(mask, 6 * 7, 7 * 7)).containsExactly(0, 0, 0, 0, 0, 0, 1);
            assertThat(p.perPosition(List.of("a", "b", "c"), "pad"))
                    .containsExactly("a", "a", "a", "a", "a", "pad", "pad", "c", "c", "c", "c", "b", "b", "b");
            var hidden = b.fromFloats(new float[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, 2, 7, 1);
            assertThat(p.firstTokens(hidden).toFloatArray()).containsExactly(0, 11, 7);
            // means over each text's own positions only: 0..4, 11..13, 7..10
            assertThat(p.meanPooled(hidden).toFloatArray()).usingComparatorWithPrecision(1e-6f).containsExactly(2, 12, 8.5f);
        }
    }

    @Test
    void aTextLongerThanTheCapacityGetsASequenceOfItsOwn() {
        PackedBatch p = PackedBatch.of(List.of(text(2, 1), text(10, 1)), List.of(new long[2], new long[10]), 4);
        assertThat(p.shape()).containsExactly(2, 10);
    }

    @Test
    void badInputIsRefusedWithWhatIsWrong() {
        assertThatThrownBy(() -> PackedBatch.of(List.of(), List.of(), 8)).isInstanceOf(PeftException.class)
                .hasMessageContaining("at least one text");
        assertThatThrownBy(() -> PackedBatch.of(List.of(text(3, 1), text(2, 1)), List.of(new long[3], new long[1]), 8))
                .isInstanceOf(PeftException.class).hasMessageContaining("text 1 has 2 token ids and 1 token types");
        PackedBatch p = PackedBatch.of(List.of(text(3, 1)), List.of(new long[3]), 8);
        assertThatThrownBy(() -> p.perPosition(List.of("a", "b"), "pad")).isInstanceOf(PeftException.class)
                .hasMessageContaining("2 names for a packed batch of 1 texts");
        try (Backend b = Peft.backend("djl"); Scope s = b.scope()) {
            BertModel bert = TinyBert.model(b).bert();
            PackedBatch tooLong = PackedBatch.of(List.of(text(41, 1)), List.of(new long[41]), 128);
            assertThatThrownBy(() -> bert.forward(tooLong)).isInstanceOf(PeftException.class)
                    .hasMessageContaining("41 tokens").hasMessageContaining("max_position_embeddings 40");
        }
    }
}
