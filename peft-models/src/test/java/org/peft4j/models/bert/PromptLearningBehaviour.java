package org.peft4j.models.bert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.peft4j.core.Peft;
import org.peft4j.api.PeftException;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.api.nn.Functional;
import org.peft4j.train.AdamW;
import org.peft4j.core.tuner.PromptLearningTuner;
import org.peft4j.models.WeightMap;
import org.peft4j.testkit.Reference;

/**
 * What every prompt-learning method must do on a small BERT, on both backends: exact trainable
 * counts, HF's saved layout, training lowers the loss, disabling leaves the base model with the
 * trained head, no merging, save/load reproduces the outputs, delete removes the encoder. Each
 * method module runs it with its own configs.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class PromptLearningBehaviour {
    /** Hidden width, layers and virtual tokens of the test model and configs. */
    protected static final int H = 32;
    protected static final int LAYERS = 2;
    protected static final int N = 4;
    private static final long[] IDS = {5, 17, 33, 8, 9, 12, 40, 2, 7, 21, 30, 3};
    private static final long[] LABELS = {0, 1, 1};

    @TempDir
    Path dir;

    /** The small random BERT classifier every case starts from. */
    protected static BertForSequenceClassification net(Backend b) {
        BertConfig c = new BertConfig(64, H, LAYERS, 4, 64, "gelu", 32, 2, 1e-12, 0.0, 0.0);
        return new BertForSequenceClassification(new BertModel(WeightMap.random(b, 3), c), 2, 1);
    }

    private static Tensor logits(Backend b, BertForSequenceClassification net) {
        long[] mask = new long[IDS.length];
        java.util.Arrays.fill(mask, 1);
        return net.forward(b.fromLongs(IDS, 3, 4), b.fromLongs(mask, 3, 4), null);
    }

    /** The method's configs, each with the exact trainable count HF reports for it on {@link #net}. */
    protected abstract Stream<Arguments> methods();

    Stream<Arguments> methodsOnBackends() {
        return Stream.of("djl", "nd4j").flatMap(b -> methods().map(a -> Arguments.of(b, a.get()[0], a.get()[1])));
    }

    @ParameterizedTest
    @MethodSource("methodsOnBackends")
    void countsSavingLoadingTrainingAndSwitchingBehave(String name, PeftConfig config, long adapterParams) {
        try (Backend b = Peft.backend(name); Scope s = b.scope()) {
            BertForSequenceClassification net = net(b);
            float[] base = logits(b, net).toFloatArray();
            PeftModel peft = new PeftModel(net, Peft.registry(), 7);
            peft.addAdapter("default", config);
            assertThat(peft.parameterCount().trainable()).isEqualTo(adapterParams + H * 2 + 2);
            assertThat(peft.savedState("default").keySet()).containsExactlyInAnyOrder("prompt_embeddings",
                    "base_model.classifier.weight", "base_model.classifier.bias");
            long width = config.peftType().equals("PREFIX_TUNING") ? LAYERS * 2L * H : H;
            assertThat(peft.savedState("default").get("prompt_embeddings").shape()).containsExactly(N, width);

            // training moves the loss down
            net.setTraining(true);
            List<org.peft4j.api.backend.Parameter> params = peft.trainableParameters();
            AdamW opt = new AdamW(params, AdamW.Options.DEFAULT);
            float first = 0;
            float last = 0;
            for (int step = 0; step < 15; step++) {
                try (Scope st = b.scope()) {
                    Gradients g = b.gradients(params, () -> Functional.crossEntropy(logits(b, net), LABELS));
                    first = step == 0 ? g.loss() : first;
                    last = g.loss();
                    opt.step(g, 1e-2f);
                }
            }
            opt.release();
            net.setTraining(false);
            assertThat(last).isLessThan(first);

            float[] adapted = logits(b, net).toFloatArray();
            // the trained head (modules_to_save) is trained in place, so disabling the adapter
            // leaves it: the disabled model is the base model with the trained head and no prompt
            float[] headOnly = logits(b, withHead(net(b), peft.savedState("default"))).toFloatArray();
            assertThat(Reference.maxAbsDiff(headOnly, base)).as("the head was trained").isGreaterThan(1e-4f);
            assertThat(Reference.maxAbsDiff(headOnly, adapted)).as("the prompt matters").isGreaterThan(1e-4f);
            try (var off = peft.disableAdapter()) {
                assertThat(Reference.maxAbsDiff(logits(b, net).toFloatArray(), headOnly)).isLessThan(1e-5f);
            }
            assertThat(Reference.maxAbsDiff(logits(b, net).toFloatArray(), adapted)).isLessThan(1e-6f);
            assertThatThrownBy(() -> peft.merge("default")).isInstanceOf(PeftException.class)
                    .hasMessageContaining("cannot be merged");

            // the file holds the final prompt; a fresh model with another seed reproduces the outputs
            peft.save(dir.resolve(name), "default");
            BertForSequenceClassification other = net(b);
            PeftModel loaded = new PeftModel(other, Peft.registry(), 99);
            loaded.loadAdapter("default", AdapterFiles.load(dir.resolve(name), Peft.registry()));
            assertThat(Reference.maxAbsDiff(logits(b, other).toFloatArray(), adapted)).isLessThan(1e-5f);

            peft.deleteAdapter("default");
            assertThat(net.children()).doesNotContainKey(PromptLearningTuner.ENCODERS);
            assertThat(Reference.maxAbsDiff(logits(b, net).toFloatArray(), headOnly)).isLessThan(1e-5f);
        }
    }

    /** {@code net} with the classifier of an adapter's saved state (its modules_to_save), copied. */
    private static BertForSequenceClassification withHead(BertForSequenceClassification net, Map<String, Tensor> state) {
        for (String p : new String[] {"weight", "bias"}) {
            Tensor t = state.get("base_model.classifier." + p);
            net.namedParameters().get("classifier." + p).set(net.backend().fromFloats(t.toFloatArray(), t.shape()));
        }
        return net;
    }
}
