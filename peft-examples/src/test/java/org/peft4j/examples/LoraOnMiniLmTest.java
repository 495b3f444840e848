package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Scope;
import org.peft4j.core.io.HostTensor;
import org.peft4j.train.AdamW;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.bert.BertForSequenceClassification;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.data.Example;
import org.peft4j.models.io.MiniLm;
import org.peft4j.models.task.TextClassifier;
import org.peft4j.models.text.Tokenizer;
import org.peft4j.testkit.Reference;

/** LoRA on the real all-MiniLM-L6-v2, on every backend. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LoraOnMiniLmTest {
    private static final List<Example> BATCH = List.of(
            new Example("a gorgeous , witty , seductive movie .", null, 1),
            new Example("unflinchingly bleak and desperate", null, 0),
            new Example("it 's a charming and often affecting journey .", null, 1),
            new Example("the film is strictly routine", null, 0));
    private Map<String, HostTensor> weights;

    @BeforeAll
    void load() {
        weights = MiniLm.weights();
    }

    private BertForSequenceClassification classifier(Backend b) {
        return new BertForSequenceClassification(new BertModel(b, MiniLm.config(), weights, ""), 2, 1);
    }

    private static LoraConfig config(LoraConfig.InitLoraWeights init) {
        return LoraConfig.builder().r(8).loraAlpha(16).targetModules("query", "value").modulesToSave("classifier")
                .initLoraWeights(init).build();
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void identityAtInitMergeEqualsUnmergedAndCountsAreExact(String name) {
        try (Backend b = Peft.backend(name); Tokenizer tok = MiniLm.tokenizer(); Scope s = b.scope()) {
            BertForSequenceClassification net = classifier(b);
            TextClassifier clf = new TextClassifier(net, tok, 64);
            float[] base = clf.logits(BATCH).toFloatArray();
            PeftModel peft = new PeftModel(net, Peft.registry(), 3);
            peft.addAdapter("default", config(LoraConfig.InitLoraWeights.DEFAULT));
            assertThat(clf.logits(BATCH).toFloatArray()).containsExactly(base);

            // HF's BertModel for all-MiniLM-L6-v2: 22,713,216 (22,565,376 plus the pooler's 384 * 384 + 384);
            // 6 layers x (query + value) x r * (384 + 384), plus the head 384*2 + 2
            long lora = 6L * 2 * 8 * (384 + 384);
            assertThat(peft.parameterCount().trainable()).isEqualTo(lora + 384 * 2 + 2);
            assertThat(peft.parameterCount().total()).isEqualTo(22_713_216L + 384 * 2 + 2 + lora);

            // with a non-zero B, merged == unmerged and unmerge restores the base weight
            PeftModel random = new PeftModel(classifier(b), Peft.registry(), 4);
            random.addAdapter("default", config(LoraConfig.InitLoraWeights.RANDOM));
            TextClassifier rclf = new TextClassifier((BertForSequenceClassification) random.model(), tok, 64);
            Parameter q0 = random.model().namedParameters().get("bert.encoder.layer.0.attention.self.query.base_layer.weight");
            float[] q0Before = q0.value().toFloatArray();
            float[] unmerged = rclf.logits(BATCH).toFloatArray();
            assertThat(Reference.maxAbsDiff(unmerged, base)).isGreaterThan(1e-3f);
            random.merge("default");
            float[] merged = rclf.logits(BATCH).toFloatArray();
            for (int i = 0; i < merged.length; i++) {
                assertThat(Math.abs(merged[i] - unmerged[i])).isLessThanOrEqualTo(1e-5f * Math.max(1f, Math.abs(unmerged[i])));
            }
            random.unmerge("default");
            assertThat(Reference.maxAbsDiff(q0.value().toFloatArray(), q0Before)).isLessThanOrEqualTo(1e-6f);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void onlyLoraAndTheHeadChangeAndTheLossFalls(String name) {
        try (Backend b = Peft.backend(name); Tokenizer tok = MiniLm.tokenizer()) {
            BertForSequenceClassification net = classifier(b);
            PeftModel peft = new PeftModel(net, Peft.registry(), 3);
            peft.addAdapter("default", config(LoraConfig.InitLoraWeights.DEFAULT));
            TextClassifier clf = new TextClassifier(net, tok, 64);
            Map<String, float[]> before = new HashMap<>();
            net.namedParameters().forEach((n, p) -> before.put(n, p.value().toFloatArray()));
            AdamW opt = new AdamW(peft.trainableParameters(), new AdamW.Options(0.9f, 0.999f, 1e-8f, 0f));
            float first = 0;
            float last = 0;
            for (int step = 0; step < 8; step++) {
                try (Scope s = b.scope()) {
                    Gradients g = b.gradients(opt.parameters(), () -> clf.loss(BATCH));
                    first = step == 0 ? g.loss() : first;
                    last = g.loss();
                    opt.step(g, 5e-3f);
                }
            }
            assertThat(last).isLessThan(first);
            net.namedParameters().forEach((n, p) -> {
                boolean changed = !java.util.Arrays.equals(before.get(n), p.value().toFloatArray());
                boolean adapter = n.contains(".lora_") || n.startsWith("classifier.");
                if (n.contains(".lora_B.") || n.startsWith("classifier.")) {
                    assertThat(changed).as(n + " trained").isTrue();
                }
                if (!adapter) {
                    assertThat(changed).as(n + " frozen").isFalse();
                }
            });
        }
    }
}
