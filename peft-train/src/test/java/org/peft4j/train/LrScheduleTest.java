package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import org.peft4j.api.PeftException;

/**
 * The schedules as HF transformers' get_*_schedule_with_warmup shape them, and the options' checks.
 * (Training itself is tested where a backend exists: BackendContract runs AdamW on every backend,
 * CheckpointResumeTest runs Trainer and Checkpoints; a backend cannot be a test dependency here
 * without a module cycle through peft-testkit.)
 */
class LrScheduleTest {

    @Test
    void warmUpClimbsLinearlyThenEachScheduleDecaysAsNamed() {
        int total = 100;
        int warmup = 10;
        for (LrSchedule s : LrSchedule.values()) {
            assertThat(s.at(0, total, warmup, 1f)).isCloseTo(0.1f, within(1e-6f));
            assertThat(s.at(9, total, warmup, 1f)).isCloseTo(1f, within(1e-6f));
        }
        assertThat(LrSchedule.CONSTANT.at(99, total, warmup, 1f)).isEqualTo(1f);
        assertThat(LrSchedule.LINEAR.at(55, total, warmup, 1f)).isCloseTo(0.5f, within(1e-6f));
        assertThat(LrSchedule.LINEAR.at(100, total, warmup, 1f)).isEqualTo(0f);
        assertThat(LrSchedule.COSINE.at(55, total, warmup, 1f)).isCloseTo(0.5f, within(1e-6f));
        assertThat(LrSchedule.COSINE.at(100, total, warmup, 1f)).isCloseTo(0f, within(1e-6f));
        assertThat(LrSchedule.COSINE.at(30, total, warmup, 1f)).isGreaterThan(LrSchedule.LINEAR.at(30, total, warmup, 1f));
    }

    @Test
    void badNamesAndOptionsAreClearErrors() {
        assertThat(LrSchedule.parse("Cosine")).isEqualTo(LrSchedule.COSINE);
        assertThatThrownBy(() -> LrSchedule.parse("step")).isInstanceOf(PeftException.class)
                .hasMessageContaining("'step'").hasMessageContaining("linear, cosine, constant");
        assertThatThrownBy(() -> new TrainingOptions(1, 0, Float.NaN, 0f, 0f, LrSchedule.LINEAR, 1f, 1, 1, 10))
                .isInstanceOf(PeftException.class).hasMessageContaining("learning_rate");
        assertThatThrownBy(() -> new TrainingOptions(1, 0, 1e-3f, 0f, 1f, LrSchedule.LINEAR, 1f, 1, 1, 10))
                .isInstanceOf(PeftException.class).hasMessageContaining("warmup_ratio");
    }
}
