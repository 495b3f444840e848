package org.peft4j.models.text;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.PeftException;
import org.peft4j.models.io.MiniLm;

class TokenizerTest {

    private static Tokenizer tok;

    @BeforeAll
    static void load() {
        long t0 = System.nanoTime();
        tok = MiniLm.tokenizer();
        System.out.println("MiniLM tokenizer loaded in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
    }

    @AfterAll
    static void close() {
        tok.close();
    }

    private static long[] row(long[] a, Tokenizer.Batch b, int r) {
        return Arrays.copyOfRange(a, r * b.seqLen(), (r + 1) * b.seqLen());
    }

    @Test
    void djlRunsOffline() {
        assertThat(System.getProperty("ai.djl.offline")).isEqualTo("true");
    }

    @Test
    void theBundledFileWouldPadTo128ButWeDoNot() throws Exception {
        JsonNode root;
        try (InputStream in = MiniLm.tokenizerJson()) {
            root = new ObjectMapper().readTree(in);
        }
        assertThat(root.path("padding").path("strategy").path("Fixed").asInt()).isEqualTo(128);
        assertThat(root.path("truncation").path("max_length").asInt()).isEqualTo(128);

        Tokenizer.Batch b = tok.encode(List.of("Hello, world!"), 512);
        assertThat(b.seqLen()).isEqualTo(6);
        String longText = "word ".repeat(300);
        Tokenizer.Batch l = tok.encode(List.of(longText), 512);
        assertThat(l.seqLen()).isEqualTo(302); // not truncated at the file's 128
    }

    @Test
    void singleTextGetsClsAndSep() {
        Tokenizer.Batch b = tok.encode(List.of("Hello, world!"), 128);
        assertThat(b.batchSize()).isEqualTo(1);
        assertThat(b.inputIds()).containsExactly(101, 7592, 1010, 2088, 999, 102);
        assertThat(b.attentionMask()).containsOnly(1L);
        assertThat(b.tokenTypeIds()).containsOnly(0L);
        assertThat(tok.tokens("Hello, world!")).containsExactly("[CLS]", "hello", ",", "world", "!", "[SEP]");
        assertThat(tok.decode(b.inputIds())).isEqualTo("hello, world!");
    }

    @Test
    void batchIsPaddedToItsLongestRow() {
        Tokenizer.Batch b = tok.encode(List.of("Hi.", "A rather longer sentence than the first one.", "Hello, world!"),
                128);
        assertThat(b.batchSize()).isEqualTo(3);
        int longest = tok.encode(List.of("A rather longer sentence than the first one."), 128).seqLen();
        assertThat(b.seqLen()).isEqualTo(longest);
        assertThat(b.inputIds()).hasSize(3 * longest);
        long[] ids0 = row(b.inputIds(), b, 0);
        long[] mask0 = row(b.attentionMask(), b, 0);
        assertThat(Arrays.copyOf(ids0, 4)).containsExactly(101, 7632, 1012, 102); // [CLS] hi . [SEP]
        for (int t = 4; t < longest; t++) {
            assertThat(ids0[t]).isZero();
            assertThat(mask0[t]).isZero();
        }
        assertThat(Arrays.copyOf(mask0, 4)).containsOnly(1L);
        assertThat(row(b.attentionMask(), b, 1)).containsOnly(1L);
        assertThat(b.tokenTypeIds()).containsOnly(0L);
        assertThat(b.length(0)).isEqualTo(4);
        assertThat(b.length(2)).isEqualTo(6);
        assertThat(b.ids(2)).containsExactly(101, 7592, 1010, 2088, 999, 102);
        assertThat(b.shape()).containsExactly(3, longest);
    }

    @Test
    void paddingToAMultipleKeepsRowsAndStopsAtMaxLength() {
        Tokenizer.Batch b = tok.encode(List.of("Hi.", "Hello, world!"), 128); // 6 columns
        Tokenizer.Batch padded = tok.padToMultiple(b, 16, 128);
        assertThat(padded.seqLen()).isEqualTo(16);
        for (int r = 0; r < 2; r++) {
            assertThat(padded.ids(r)).containsExactly(b.ids(r));
            assertThat(padded.types(r)).containsExactly(b.types(r));
            assertThat(padded.length(r)).isEqualTo(b.length(r));
        }
        assertThat(row(padded.inputIds(), padded, 0)).endsWith(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        assertThat(tok.padToMultiple(b, 16, 10).seqLen()).as("never beyond max length").isEqualTo(10);
        assertThat(tok.padToMultiple(b, 16, 4).seqLen()).as("never shorter").isEqualTo(6);
        assertThat(tok.padToMultiple(b, 1, 128)).isSameAs(b);
        assertThatThrownBy(() -> tok.padToMultiple(b, 0, 128)).hasMessageContaining("multiple must be >= 1, got 0");
    }

    @Test
    void truncationKeepsSepAtTheEnd() {
        String longText = "the quick brown fox jumps over the lazy dog again and again";
        Tokenizer.Batch b = tok.encode(List.of(longText, "Hi."), 8);
        assertThat(b.seqLen()).isEqualTo(8);
        long[] ids = row(b.inputIds(), b, 0);
        assertThat(ids[0]).isEqualTo(101);
        assertThat(ids[7]).isEqualTo(102);
        assertThat(tok.decode(ids)).isEqualTo("the quick brown fox jumps over");
        assertThat(b.length(1)).isEqualTo(4);
        // a different maxLength on the same tokenizer
        Tokenizer.Batch c = tok.encode(List.of(longText), 5);
        assertThat(c.inputIds()).containsExactly(101, 1996, 4248, 2829, 102);
        assertThat(tok.encode(List.of(longText), 2).inputIds()).containsExactly(101, 102);
    }

    @Test
    void pairsGetSegmentIds() {
        Tokenizer.Batch b = tok.encodePairs(List.of("Hello", "How are you?"), List.of("world", "Fine."), 64);
        assertThat(b.batchSize()).isEqualTo(2);
        assertThat(b.ids(0)).containsExactly(101, 7592, 102, 2088, 102);
        long[] types0 = row(b.tokenTypeIds(), b, 0);
        assertThat(Arrays.copyOf(types0, 5)).containsExactly(0, 0, 0, 1, 1);
        for (int t = 5; t < b.seqLen(); t++) {
            assertThat(types0[t]).isZero(); // padding
        }
        long[] types1 = row(b.tokenTypeIds(), b, 1);
        long[] ids1 = b.ids(1);
        // [CLS] how are you ? [SEP] fine . [SEP]
        assertThat(ids1).hasSize(9);
        assertThat(Arrays.copyOf(types1, 9)).containsExactly(0, 0, 0, 0, 0, 0, 1, 1, 1);
        assertThat(ids1[5]).isEqualTo(102);
        assertThat(ids1[8]).isEqualTo(102);
    }

    @Test
    void pairsAreTruncatedLongestFirstKeepingBothSeps() {
        String a = "the quick brown fox jumps over the lazy dog again and again";
        Tokenizer.Batch b = tok.encodePairs(List.of(a), List.of("short one"), 10);
        long[] ids = b.ids(0);
        assertThat(ids).hasSize(10);
        assertThat(ids[0]).isEqualTo(101);
        assertThat(ids[9]).isEqualTo(102);
        assertThat(Arrays.stream(ids).filter(i -> i == 102).count()).isEqualTo(2);
        long[] types = row(b.tokenTypeIds(), b, 0);
        assertThat(Arrays.copyOfRange(types, 7, 10)).containsExactly(1, 1, 1); // short one [SEP] kept whole
        assertThat(tok.decode(ids)).isEqualTo("the quick brown fox jumps short one");
    }

    @Test
    void vocabularyAndPad() {
        assertThat(tok.vocabSize()).isEqualTo(30522);
        assertThat(tok.padId()).isZero();
    }

    @Test
    void loadsFromFileOrDirectory(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("tokenizer.json");
        try (InputStream in = MiniLm.tokenizerJson()) {
            Files.copy(in, file);
        }
        try (Tokenizer fromFile = Tokenizer.fromFile(file); Tokenizer fromDir = Tokenizer.fromFile(dir)) {
            assertThat(fromFile.encode(List.of("Hello, world!"), 32)).isEqualTo(tok.encode(List.of("Hello, world!"), 32));
            assertThat(fromDir.vocabSize()).isEqualTo(30522);
        }
    }

    @Test
    void rejectsBadInput(@TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> tok.encode(List.of("x"), 1)).isInstanceOf(PeftException.class)
                .hasMessageContaining("maxLength");
        assertThatThrownBy(() -> tok.encodePairs(List.of("a"), List.of("b", "c"), 16))
                .isInstanceOf(PeftException.class).hasMessageContaining("differ");
        assertThatThrownBy(() -> tok.encodePairs(List.of("a"), List.of("b"), 2)).isInstanceOf(PeftException.class);
        assertThatThrownBy(() -> tok.encode(Arrays.asList("a", null), 16)).isInstanceOf(PeftException.class);
        Path bad = dir.resolve("tokenizer.json");
        Files.writeString(bad, "{\"version\": \"1.0\"}");
        assertThatThrownBy(() -> Tokenizer.fromFile(bad)).isInstanceOf(PeftException.class);
        Files.writeString(bad, "not json");
        assertThatThrownBy(() -> Tokenizer.fromFile(bad)).isInstanceOf(PeftException.class);
        assertThatThrownBy(() -> Tokenizer.fromFile(dir.resolve("missing.json"))).isInstanceOf(PeftException.class);
    }

    @Test
    void emptyBatchAndClose() {
        Tokenizer.Batch empty = tok.encode(List.of(), 16);
        assertThat(empty.batchSize()).isZero();
        assertThat(empty.seqLen()).isZero();
        Tokenizer t = MiniLm.tokenizer();
        t.encode(List.of("a"), 8);
        t.close();
        assertThatThrownBy(() -> t.encode(List.of("a"), 8)).isInstanceOf(PeftException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void rowsTokenizedOnceRegroupIntoTheBatchEncodeGives() {
        List<String> texts = List.of("a short one", "a somewhat longer sentence with more words in it", "mid length text");
        Tokenizer.Batch all = tok.encode(texts, 16);
        Tokenizer.Batch regrouped = tok.pad(List.of(all.ids(2), all.ids(0)), List.of(all.types(2), all.types(0)));
        assertThat(regrouped).isEqualTo(tok.encode(List.of(texts.get(2), texts.get(0)), 16));
        assertThatThrownBy(() -> tok.pad(List.of(all.ids(0)), List.of(new long[1])))
                .isInstanceOf(PeftException.class).hasMessageContaining("token types");
    }
}
