package org.peft4j.models.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.peft4j.models.text.Tokenizer;

class OrtReferenceTest {

    private static OrtReference ort;
    private static Tokenizer tok;

    @BeforeAll
    static void open() {
        ort = OrtReference.miniLm();
        tok = MiniLm.tokenizer();
    }

    @AfterAll
    static void close() {
        ort.close();
        tok.close();
    }

    @Test
    void graphNames() {
        assertThat(ort.inputNames()).containsExactlyInAnyOrder(OrtReference.INPUT_IDS, OrtReference.ATTENTION_MASK,
                OrtReference.TOKEN_TYPE_IDS);
        assertThat(ort.outputNames()).containsExactlyInAnyOrder(OrtReference.LAST_HIDDEN_STATE,
                OrtReference.POOLER_OUTPUT);
    }

    @Test
    void shapeAndDeterminism() {
        Tokenizer.Batch b = tok.encode(List.of("Hello, world!", "Parameter-efficient fine-tuning on the JVM."), 64);
        float[] first = ort.lastHiddenState(b);
        assertThat(first).hasSize(b.batchSize() * b.seqLen() * 384);
        for (float v : first) {
            assertThat(Float.isFinite(v)).isTrue();
        }
        assertThat(ort.lastHiddenState(b)).containsExactly(first);
        float[] pooled = ort.poolerOutput(b.inputIds(), b.attentionMask(), b.tokenTypeIds(), b.batchSize(), b.seqLen());
        assertThat(pooled).hasSize(b.batchSize() * 384);
    }

    @Test
    void paddingDoesNotChangeRealTokens() {
        Tokenizer.Batch alone = tok.encode(List.of("Hello, world!"), 64);
        Tokenizer.Batch padded = tok.encode(List.of("Hello, world!", "A noticeably longer second sentence is here."),
                64);
        float[] a = ort.lastHiddenState(alone);
        float[] p = ort.lastHiddenState(padded);
        double max = 0;
        for (int t = 0; t < alone.seqLen(); t++) {
            for (int j = 0; j < 384; j++) {
                max = Math.max(max, Math.abs(a[t * 384 + j] - p[t * 384 + j]));
            }
        }
        assertThat(max).isLessThan(1e-4);
    }

    @Test
    void meanPooledEmbeddingsAreSemanticallySensible() {
        Tokenizer.Batch b = tok.encode(
                List.of("A man is playing a guitar.", "Someone plays an instrument.", "The stock market fell today."),
                64);
        float[] h = ort.lastHiddenState(b);
        double[][] e = new double[3][384];
        for (int r = 0; r < 3; r++) {
            int n = b.length(r);
            for (int t = 0; t < n; t++) {
                for (int j = 0; j < 384; j++) {
                    e[r][j] += h[(r * b.seqLen() + t) * 384 + j] / n;
                }
            }
        }
        assertThat(cos(e[0], e[1])).isGreaterThan(cos(e[0], e[2]) + 0.1);
    }

    private static double cos(double[] x, double[] y) {
        double d = 0;
        double nx = 0;
        double ny = 0;
        for (int i = 0; i < x.length; i++) {
            d += x[i] * y[i];
            nx += x[i] * x[i];
            ny += y[i] * y[i];
        }
        return d / Math.sqrt(nx * ny);
    }
}
