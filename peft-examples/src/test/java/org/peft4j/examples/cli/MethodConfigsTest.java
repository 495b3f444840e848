package org.peft4j.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.adapter.BottleneckConfig;
import org.peft4j.api.PeftException;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.config.TargetModules;
import org.peft4j.ia3.Ia3Config;

/** {@code peft train --method adapter|ia3} gets sensible defaults for MiniLM, with the head in modules_to_save. */
class MethodConfigsTest {

    @Test
    void adapterIsAPfeifferBottleneckWithReduction16() {
        PeftConfig c = MethodConfigs.build(org.peft4j.core.Peft.registry(), "adapter", Map.of());
        assertThat(c).isInstanceOf(BottleneckConfig.class);
        BottleneckConfig b = (BottleneckConfig) c;
        assertThat(b.config()).isEqualTo("pfeiffer");
        assertThat(b.bottleneckSize(384)).isEqualTo(24);
        assertThat(b.modulesToSave()).containsExactly("classifier");
        // --set config=parallel brings the parallel preset's own reduction factor and scaling
        BottleneckConfig par = (BottleneckConfig) MethodConfigs.build(org.peft4j.core.Peft.registry(), "adapter", Map.of("config", "parallel"));
        assertThat(par.isParallel()).isTrue();
        assertThat(par.reductionFactor()).isEqualTo(2f);
        assertThat(MethodConfigs.build(org.peft4j.core.Peft.registry(), "bottleneck", Map.of())).isInstanceOf(BottleneckConfig.class);
    }

    @Test
    void ia3UsesHfBertMapping() {
        Ia3Config c = (Ia3Config) MethodConfigs.build(org.peft4j.core.Peft.registry(), "ia3", Map.of());
        assertThat(c.targetModules()).isEqualTo(TargetModules.names("key", "value", "output.dense"));
        assertThat(c.feedforwardModules()).isEqualTo(TargetModules.names("output.dense"));
        assertThat(c.modulesToSave()).containsExactly("classifier");
        assertThat(MethodConfigs.defaultLearningRate("ia3")).isEqualTo(5e-3f);
        assertThat(MethodConfigs.defaultLearningRate("adapter")).isEqualTo(1e-3f);
        assertThatThrownBy(() -> MethodConfigs.build(org.peft4j.core.Peft.registry(), "ia3", Map.of("feedforward_modules", "[\"query\"]")))
                .isInstanceOf(PeftException.class).hasMessageContaining("subset");
    }

    @Test
    void promptLearningMethodsHaveTwentyVirtualTokensAndTheirOwnRates() {
        assertThat(MethodConfigs.build(org.peft4j.core.Peft.registry(), "prompt", Map.of())).isInstanceOf(org.peft4j.prompt.PromptTuningConfig.class)
                .extracting(c -> ((org.peft4j.prompt.PromptTuningConfig) c).prompt().numVirtualTokens()).isEqualTo(20);
        assertThat(MethodConfigs.build(org.peft4j.core.Peft.registry(), "p_tuning", Map.of())).isInstanceOf(org.peft4j.prompt.PromptEncoderConfig.class);
        assertThat(MethodConfigs.build(org.peft4j.core.Peft.registry(), "prefix", Map.of())).isInstanceOf(org.peft4j.prefix.PrefixTuningConfig.class)
                .extracting(PeftConfig::modulesToSave).isEqualTo(java.util.List.of("classifier"));
        assertThat(MethodConfigs.defaultLearningRate("prompt")).isEqualTo(3e-2f);
        assertThat(MethodConfigs.defaultLearningRate("prefix")).isEqualTo(1e-2f);
    }
}
