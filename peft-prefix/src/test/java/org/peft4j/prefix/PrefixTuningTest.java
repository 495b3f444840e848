package org.peft4j.prefix;

import java.util.stream.Stream;
import org.junit.jupiter.params.provider.Arguments;
import org.peft4j.models.bert.PromptLearningBehaviour;

/** Prefix tuning, plain and projected, on a small BERT, on both backends. */
class PrefixTuningTest extends PromptLearningBehaviour {

    @Override
    protected Stream<Arguments> methods() {
        long prefix = (long) N * LAYERS * 2 * H;
        long projected = N * H + (H * 24 + 24) + (24L * LAYERS * 2 * H + LAYERS * 2 * H);
        return Stream.of(
                Arguments.of(PrefixTuningConfig.of(N, false, null, "classifier"), prefix),
                Arguments.of(PrefixTuningConfig.of(N, true, 24, "classifier"), projected));
    }
}
