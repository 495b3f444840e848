package org.peft4j.models.bert;

import java.util.Map;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Functional;
import org.peft4j.train.AdamW;
import org.peft4j.models.WeightMap;
import org.peft4j.testkit.Reference;

/**
 * A small random BERT classifier and a fixed batch, for method tests that must run fast on both
 * backends; method modules use it through peft-models' test jar.
 */
public final class TinyBert {
    /** 2 layers, hidden 16, 4 heads, intermediate 32. */
    public static final BertConfig CONFIG = new BertConfig(50, 16, 2, 4, 32, "gelu", 40, 2, 1e-12, 0.1, 0.1);
    public static final long HIDDEN = 16;
    public static final long INTERMEDIATE = 32;
    public static final int LAYERS = 2;
    /** The classification head: 16 x 2 weight and 2 biases. */
    public static final long HEAD = HIDDEN * 2 + 2;
    public static final long[] IDS = {1, 7, 9, 2, 0, 1, 4, 4, 12, 2, 1, 30, 31, 8, 2, 1, 5, 6, 2, 0};
    public static final float[] MASK = {1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    public static final long[] LABELS = {1, 0, 1, 0};

    private TinyBert() {
    }

    /** The model; linear biases are random too (WeightMap.random leaves them zero), so bias handling is tested. */
    public static BertForSequenceClassification model(Backend b) {
        BertForSequenceClassification m =
                new BertForSequenceClassification(new BertModel(WeightMap.random(b, 3), CONFIG), 2, 1);
        int[] seed = {11};
        m.namedParameters().forEach((n, p) -> {
            if (n.endsWith(".bias") && !n.contains("LayerNorm")) {
                float[] v = Reference.randoms((int) p.numel(), seed[0]++);
                for (int i = 0; i < v.length; i++) {
                    v[i] *= 0.1f;
                }
                p.set(b.fromFloats(v, p.value().shape()));
            }
        });
        return m;
    }

    /** The model wrapped for PEFT (seed 5), with no adapter. */
    public static PeftModel plain(Backend b) {
        return new PeftModel(model(b), org.peft4j.core.Peft.registry(), 5);
    }

    /** The model wrapped for PEFT (seed 5) with {@code config} added as {@code default}. */
    public static PeftModel withAdapter(Backend b, org.peft4j.api.config.PeftConfig config) {
        PeftModel m = plain(b);
        m.addAdapter("default", config);
        return m;
    }

    /** Logits (4, 2) for the fixed batch. */
    public static Tensor logits(PeftModel m) {
        Backend b = m.model().backend();
        return ((BertForSequenceClassification) m.model()).forward(b.fromLongs(IDS, 4, 5), b.fromFloats(MASK, 4, 5),
                null);
    }

    public static float[] out(PeftModel m) {
        try (Scope s = m.model().backend().scope()) {
            return logits(m).toFloatArray();
        }
    }

    /** Trains the trainable parameters on the fixed batch; returns the first and last loss. */
    public static float[] train(PeftModel m, int steps, float lr) {
        Backend b = m.model().backend();
        AdamW opt = new AdamW(m.trainableParameters(), new AdamW.Options(0.9f, 0.999f, 1e-8f, 0f));
        float first = 0;
        float last = 0;
        for (int step = 0; step < steps; step++) {
            try (Scope s = b.scope()) {
                Gradients g = b.gradients(opt.parameters(), () -> Functional.crossEntropy(logits(m), LABELS));
                first = step == 0 ? g.loss() : first;
                last = g.loss();
                opt.step(g, lr);
            }
        }
        opt.release();
        return new float[] {first, last};
    }

    /** Every parameter's values by path. */
    public static Map<String, float[]> snapshot(PeftModel m) {
        Map<String, float[]> out = new java.util.HashMap<>();
        m.model().namedParameters().forEach((n, p) -> out.put(n, p.value().toFloatArray()));
        return out;
    }
    /** Sets every parameter of the adapter (not the head) to small random values, so it changes the output. */
    public static void randomize(PeftModel m, String adapter, long seed) {
        long[] s = {seed};
        m.adapterState(adapter).forEach((k, p) -> {
            if (!k.startsWith("base_model.model.classifier.")) {
                float[] v = Reference.randoms((int) p.numel(), s[0]++);
                for (int i = 0; i < v.length; i++) {
                    v[i] = 1f + 0.5f * v[i];
                }
                p.set(m.model().backend().fromFloats(v, p.value().shape()));
            }
        });
    }

    /** Mixed-adapter batch rows equal each row run with only its adapter active (or none for __base__). */
    public static void assertMixedBatchMatchesSingleAdapters(PeftModel m) {
        m.setAdapter("a");
        float[] a = out(m);
        m.setAdapter("b");
        float[] b = out(m);
        float[] base;
        try (var off = m.disableAdapter()) {
            base = out(m);
        }
        java.util.List<String> route = java.util.List.of("a", "b", org.peft4j.core.tuner.RowAdapters.BASE, "a");
        float[] mixed = m.withRowAdapters(route, () -> out(m));
        float[][] expected = {a, b, base, a};
        for (int row = 0; row < 4; row++) {
            for (int c = 0; c < 2; c++) {
                org.assertj.core.api.Assertions.assertThat(Math.abs(mixed[row * 2 + c] - expected[row][row * 2 + c]))
                        .as("row " + row + " (" + route.get(row) + ")").isLessThan(1e-5f);
            }
        }
        org.assertj.core.api.Assertions.assertThat(Reference.maxAbsDiff(a, b)).isGreaterThan(1e-4f);
    }
}
