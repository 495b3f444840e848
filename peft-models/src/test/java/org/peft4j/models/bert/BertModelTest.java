package org.peft4j.models.bert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.core.Peft;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.InsertionPoint;
import org.peft4j.api.nn.KeyValuePrefix;
import org.peft4j.api.nn.PromptPrefix;
import org.peft4j.models.WeightMap;

/** Properties of the encoder users rely on, on a tiny random BERT, on every backend. */
class BertModelTest {
    static final BertConfig TINY = new BertConfig(50, 16, 2, 4, 32, "gelu", 40, 2, 1e-12, 0.1, 0.1);

    private static BertModel tiny(Backend b) {
        return new BertModel(WeightMap.random(b, 3), TINY);
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void paddingDoesNotChangeTheRealTokensOutputs(String name) {
        try (Backend b = Peft.backend(name); Scope s = b.scope()) {
            BertModel bert = tiny(b);
            Tensor alone = bert.forward(b.fromLongs(new long[] {1, 7, 9, 2}, 1, 4), b.full(1f, 1, 4), null);
            Tensor padded = bert.forward(b.fromLongs(new long[] {1, 7, 9, 2, 0, 0}, 1, 6),
                    b.fromFloats(new float[] {1, 1, 1, 1, 0, 0}, 1, 6), null);
            float[] a = alone.toFloatArray();
            float[] p = padded.slice(1, 0, 4).toFloatArray();
            for (int i = 0; i < a.length; i++) {
                assertThat(p[i]).isCloseTo(a[i], org.assertj.core.data.Offset.offset(1e-5f));
            }
            assertThat(padded.shape()).containsExactly(1, 6, 16);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void hooksForAdaptersPrefixesAndPromptsChangeTheOutput(String name) {
        try (Backend b = Peft.backend(name); Scope s = b.scope()) {
            BertModel bert = tiny(b);
            Tensor ids = b.fromLongs(new long[] {1, 7, 9, 2}, 1, 4);
            Tensor mask = b.full(1f, 1, 4);
            float[] base = bert.forward(ids, mask, null).toFloatArray();

            // an insertion point replaced by one that adds 1 changes the output
            bert.find("encoder.layer.1.output").replaceChild("adapter", new InsertionPoint(b, 1536, 384) {
                @Override
                public Tensor forward(Tensor in, Tensor out) {
                    return out.add(1f);
                }
            });
            assertThat(bert.forward(ids, mask, null).toFloatArray()).isNotEqualTo(base);
            bert.find("encoder.layer.1.output").replaceChild("adapter", new InsertionPoint(b, 1536, 384));
            assertThat(bert.forward(ids, mask, null).toFloatArray()).containsExactly(base);

            // a key/value prefix of 3 positions on layer 0
            BertSelfAttention att = (BertSelfAttention) bert.find("encoder.layer.0.attention.self");
            att.setPrefix(new KeyValuePrefix() {
                @Override
                public long length() {
                    return 3;
                }

                @Override
                public Tensor[] keysAndValues(int layer, long batch) {
                    return new Tensor[] {b.full(0.5f, batch, 4, 3, 4), b.full(-0.5f, batch, 4, 3, 4)};
                }
            });
            Tensor withPrefix = bert.forward(ids, mask, null);
            assertThat(withPrefix.shape()).containsExactly(1, 4, 16);
            assertThat(withPrefix.toFloatArray()).isNotEqualTo(base);
            att.setPrefix(null);

            // a prompt of 2 virtual tokens is prepended
            bert.embeddings().setPrompt(new PromptPrefix() {
                @Override
                public long length() {
                    return 2;
                }

                @Override
                public Tensor embeddings(long batch) {
                    return b.full(0.1f, batch, 2, 16);
                }
            });
            Tensor withPrompt = bert.forward(ids, mask, b.fromLongs(new long[] {0, 0, 1, 1}, 1, 4));
            assertThat(withPrompt.shape()).containsExactly(1, 6, 16);
            bert.embeddings().setPrompt(null);
            assertThat(bert.forward(ids, mask, null).toFloatArray()).containsExactly(base);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl"})
    void tooLongInputAndBadShapesAreClearErrors(String name) {
        try (Backend b = Peft.backend(name); Scope s = b.scope()) {
            BertModel bert = tiny(b);
            assertThatThrownBy(() -> bert.forward(b.zeros(1, 41).toType(org.peft4j.api.backend.DType.INT64),
                    b.full(1f, 1, 41), null)).isInstanceOf(PeftException.class).hasMessageContaining("41")
                    .hasMessageContaining("max_position_embeddings");
            assertThatThrownBy(() -> bert.forward(b.fromLongs(new long[] {1, 2}, 1, 2), b.full(1f, 1, 3), null))
                    .isInstanceOf(PeftException.class).hasMessageContaining("attention_mask");
        }
    }
}
