package org.peft4j.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;
import org.peft4j.core.io.HostTensor;
import org.peft4j.models.io.MiniLm;
import org.peft4j.models.text.Tokenizer;

/**
 * The benchmarks' input: 32 rows of exactly 64 real tokens (SST-2 dev sentences run together),
 * and the all-MiniLM-L6-v2 weights, loaded once per JVM.
 */
final class MiniLmBatch {
    static final int BATCH = 32;
    static final int SEQ = 64;
    private static Map<String, HostTensor> weights;
    private static long[] ids;

    private MiniLmBatch() {
    }

    static synchronized Map<String, HostTensor> weights() {
        if (weights == null) {
            weights = MiniLm.weights();
        }
        return weights;
    }

    /** Token ids (32, 64), row-major; every row is full, so the mask is all ones. */
    static synchronized long[] ids() {
        if (ids == null) {
            List<String> sentences;
            try {
                sentences = Files.readAllLines(Path.of(System.getProperty("peft.data", "data/sst2/dev.tsv")));
            } catch (IOException e) {
                throw new UncheckedIOException("run the benchmarks from the repository root (data/sst2/dev.tsv)", e);
            }
            List<String> texts = new ArrayList<>();
            StringBuilder text = new StringBuilder();
            for (String line : sentences.subList(1, sentences.size())) {
                text.append(line, 0, line.lastIndexOf('\t')).append(' ');
                if (text.length() > 600) {
                    texts.add(text.toString());
                    text.setLength(0);
                    if (texts.size() == BATCH) {
                        break;
                    }
                }
            }
            try (Tokenizer tok = MiniLm.tokenizer()) {
                Tokenizer.Batch enc = tok.encode(texts, SEQ);
                if (enc.seqLen() != SEQ) {
                    throw new IllegalStateException("expected rows of " + SEQ + " tokens, got " + enc.seqLen());
                }
                ids = enc.inputIds();
            }
        }
        return ids.clone();
    }

    /** Seeded standard normal floats. */
    static float[] gaussian(int n, long seed) {
        java.util.Random r = new java.util.Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    static Tensor idsTensor(Backend b) {
        return b.fromLongs(ids(), BATCH, SEQ);
    }

    static Tensor mask(Backend b) {
        long[] ones = new long[BATCH * SEQ];
        java.util.Arrays.fill(ones, 1);
        return b.fromLongs(ones, BATCH, SEQ);
    }
}
