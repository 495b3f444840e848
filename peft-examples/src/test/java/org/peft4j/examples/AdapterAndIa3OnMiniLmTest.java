package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.peft4j.adapter.BottleneckConfig;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.core.io.HostTensor;
import org.peft4j.train.AdamW;
import org.peft4j.ia3.Ia3Config;
import org.peft4j.models.bert.BertForSequenceClassification;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.data.Example;
import org.peft4j.models.io.MiniLm;
import org.peft4j.models.task.TextClassifier;
import org.peft4j.models.text.Tokenizer;
import org.peft4j.testkit.Reference;

/** Bottleneck adapters and IA3 on the real all-MiniLM-L6-v2 with SST-2 sentences, on every backend. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdapterAndIa3OnMiniLmTest {
    private static final List<Example> BATCH = List.of(
            new Example("a gorgeous , witty , seductive movie .", null, 1),
            new Example("unflinchingly bleak and desperate", null, 0),
            new Example("it 's a charming and often affecting journey .", null, 1),
            new Example("the film is strictly routine", null, 0));
    private static final long D = 384;
    private static final long HEAD = D * 2 + 2;
    private static final long ENCODER = 22_713_216L; // HF BertModel: 22,565,376 + the pooler (384 * 384 + 384)
    private Map<String, HostTensor> weights;

    @BeforeAll
    void load() {
        weights = MiniLm.weights();
    }

    private BertForSequenceClassification classifier(Backend b) {
        return new BertForSequenceClassification(new BertModel(b, MiniLm.config(), weights, ""), 2, 1);
    }

    /** The CLI's defaults: Pfeiffer with reduction 16 (m = 24), and IA3 with HF's BERT mapping. */
    private static PeftConfig config(String method) {
        return method.equals("adapter")
                ? BottleneckConfig.builder("pfeiffer").modulesToSave("classifier").build()
                : Ia3Config.builder().targetModules("key", "value", "output.dense").feedforwardModules("output.dense")
                        .modulesToSave("classifier").build();
    }

    private static long methodParameters(String method) {
        long m = 24;
        return method.equals("adapter")
                ? 6 * (2 * m * D + D + m)
                // key and value outputs (384 each), attention.output.dense input (384), output.dense input (1536)
                : 6 * (D + D + D + 1536);
    }

    @ParameterizedTest
    @CsvSource({"adapter, djl", "adapter, nd4j", "ia3, djl", "ia3, nd4j"})
    void startsAsTheBaseModelAndTrainingLowersTheLoss(String method, String backend) {
        try (Backend b = Peft.backend(backend); Tokenizer tok = MiniLm.tokenizer()) {
            BertForSequenceClassification net = classifier(b);
            TextClassifier clf = new TextClassifier(net, tok, 64);
            float[] base;
            try (Scope s = b.scope()) {
                base = clf.logits(BATCH).toFloatArray();
            }
            PeftModel peft = new PeftModel(net, Peft.registry(), 3);
            peft.addAdapter("default", config(method));
            try (Scope s = b.scope()) {
                assertThat(Reference.maxAbsDiff(clf.logits(BATCH).toFloatArray(), base)).isLessThanOrEqualTo(1e-5f);
            }
            assertThat(peft.parameterCount().trainable()).isEqualTo(methodParameters(method) + HEAD);
            assertThat(peft.parameterCount().total()).isEqualTo(ENCODER + HEAD + methodParameters(method));

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
        }
    }
}
