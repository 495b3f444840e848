package org.peft4j.prompt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModel;
import org.peft4j.models.bert.BertForSequenceClassification;
import org.peft4j.models.bert.PromptLearningBehaviour;
import org.peft4j.testkit.Reference;

/** Prompt tuning and P-tuning (MLP, LSTM) on a small BERT, on both backends. */
class PromptTuningTest extends PromptLearningBehaviour {

    @Override
    protected Stream<Arguments> methods() {
        long mlp = N * H + (H * 16 + 16) + (16 * 16 + 16) + (16 * H + H);
        long lstmHidden = 8;
        long lstm = N * H + 2 * (4 * lstmHidden * H + 4 * lstmHidden * lstmHidden + 8 * lstmHidden)
                + 2 * (4 * lstmHidden * 2 * lstmHidden + 4 * lstmHidden * lstmHidden + 8 * lstmHidden)
                + (2 * lstmHidden * 2 * lstmHidden + 2 * lstmHidden) + (2 * lstmHidden * H + H);
        return Stream.of(
                Arguments.of(PromptTuningConfig.random(N, "classifier"), (long) N * H),
                Arguments.of(PromptEncoderConfig.of(N, "MLP", 16, "classifier"), mlp),
                Arguments.of(PromptEncoderConfig.of(N, "LSTM", (int) lstmHidden, "classifier"), lstm));
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void textInitCopiesTheEmbeddingsOfTheRepeatedTokenIds(String name) {
        try (Backend b = Peft.backend(name); Scope s = b.scope()) {
            BertForSequenceClassification net = net(b);
            PeftModel peft = new PeftModel(net, Peft.registry(), 7, text -> new long[] {3, 9, 11});
            peft.addAdapter("default", PromptTuningConfig.text(5, "three tokens here"));
            float[] table = peft.savedState("default").get("prompt_embeddings").toFloatArray();
            float[] words = net.bert().embeddings().embedTokens(b.fromLongs(new long[] {3, 9, 11, 3, 9}, 5))
                    .toFloatArray();
            assertThat(Reference.maxAbsDiff(table, words)).isEqualTo(0f);
            assertThatThrownBy(() -> Peft.registry().parseConfig("{\"peft_type\":\"PROMPT_TUNING\","
                    + "\"num_virtual_tokens\":4,\"prompt_tuning_init\":\"TEXT\"}"))
                    .isInstanceOf(PeftException.class).hasMessageContaining("prompt_tuning_init_text");
            assertThatThrownBy(() -> Peft.registry().parseConfig("{\"peft_type\":\"P_TUNING\","
                    + "\"num_virtual_tokens\":4,\"encoder_reparameterization_type\":\"GRU\"}"))
                    .isInstanceOf(PeftException.class).hasMessageContaining("[MLP, LSTM]");
        }
    }
}
