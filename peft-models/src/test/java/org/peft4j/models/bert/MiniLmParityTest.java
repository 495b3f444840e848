package org.peft4j.models.bert;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.core.Peft;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.core.io.HostTensor;
import org.peft4j.models.io.MiniLm;
import org.peft4j.models.io.OrtReference;
import org.peft4j.models.text.Tokenizer;

/** Our MiniLM encoder matches ONNX Runtime on the same .onnx file, on every backend. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MiniLmParityTest {
    static final List<String> SENTENCES = List.of(
            "Hello, world!",
            "The quick brown fox jumps over the lazy dog.",
            "a gorgeous , witty , seductive movie .",
            "it 's a charming and often affecting journey .",
            "unflinchingly bleak and desperate",
            "PEFT trains a tiny fraction of the weights of a large pretrained transformer, "
                    + "so fine-tuning fits on a laptop CPU and the adapter is only a few hundred kilobytes.",
            "Ja.",
            "the film is strictly routine , with nothing to recommend it beyond a few well-timed gags and "
                    + "an undeniably game cast who deserve much better material than this .",
            "Java 17 on two cores");

    private Map<String, HostTensor> weights;
    private Tokenizer.Batch batch;
    private float[] reference;

    @BeforeAll
    void runOrt() {
        weights = MiniLm.weights();
        try (Tokenizer tokenizer = MiniLm.tokenizer(); OrtReference ort = OrtReference.miniLm()) {
            batch = tokenizer.encode(SENTENCES, 128);
            reference = ort.lastHiddenState(batch);
        }
    }

    @AfterAll
    void release() {
        weights = null;
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void lastHiddenStateAndSentenceEmbeddingsMatchOnnxRuntime(String name) {
        assertThat(batch.batchSize()).isEqualTo(SENTENCES.size());
        try (Backend b = Peft.backend(name); Scope s = b.scope()) {
            BertModel bert = new BertModel(b, MiniLm.config(), weights, "");
            long[] shape = batch.shape();
            Tensor mask = b.fromLongs(batch.attentionMask(), shape);
            Tensor hidden = bert.forward(b.fromLongs(batch.inputIds(), shape), mask, b.fromLongs(batch.tokenTypeIds(), shape));
            float[] ours = hidden.toFloatArray();
            float maxDiff = 0;
            for (int i = 0; i < ours.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(ours[i] - reference[i]));
            }
            assertThat(maxDiff).as("max |ours - ORT| over the last hidden state").isLessThanOrEqualTo(1e-4f);

            Tensor maskF = bert.fullMask(mask, 0);
            float[] embOurs = BertModel.l2Normalize(BertModel.meanPool(hidden, maskF)).toFloatArray();
            float[] embRef = BertModel.l2Normalize(BertModel.meanPool(
                    b.fromFloats(reference, shape[0], shape[1], 384), maskF)).toFloatArray();
            for (int r = 0; r < shape[0]; r++) {
                double dot = 0;
                for (int j = 0; j < 384; j++) {
                    dot += embOurs[r * 384 + j] * embRef[r * 384 + j];
                }
                assertThat(dot).as("cosine of sentence %d", r).isGreaterThanOrEqualTo(0.9999);
            }
        }
    }
}
