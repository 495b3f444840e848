package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.peft4j.api.PeftException;
import org.peft4j.core.io.PeftJson;
import org.peft4j.api.config.TargetModules;

class LoraConfigTest {

    @Test
    void missingKeysTakeHuggingFaceDefaults() {
        LoraConfig c = PeftJson.read("{\"peft_type\":\"LORA\",\"target_modules\":[\"query\"]}", LoraConfig.class);
        assertThat(c.r()).isEqualTo(8);
        assertThat(c.loraAlpha()).isEqualTo(8f);
        assertThat(c.loraDropout()).isZero();
        assertThat(c.bias()).isEqualTo("none");
        assertThat(c.initLoraWeights()).isEqualTo(LoraConfig.InitLoraWeights.DEFAULT);
        assertThat(c.useRslora()).isFalse();
    }

    @Test
    void roundTripKeepsUnknownKeysAndHfNames() {
        String json = "{\"peft_type\":\"LORA\",\"r\":16,\"lora_alpha\":32,\"target_modules\":\"^.*\\\\.(query|value)$\","
                + "\"init_lora_weights\":\"gaussian\",\"use_rslora\":true,\"task_type\":\"SEQ_CLS\","
                + "\"megatron_config\":null,\"future_key\":{\"a\":[1,2]}}";
        LoraConfig c = PeftJson.read(json, LoraConfig.class);
        assertThat(c.targetModules()).isInstanceOf(TargetModules.Regex.class);
        assertThat(c.extras()).containsKeys("future_key", "megatron_config");
        String written = PeftJson.write(c);
        ObjectNode back = PeftJson.parseObject(written);
        assertThat(back.get("lora_alpha").asDouble()).isEqualTo(32.0);
        assertThat(back.get("init_lora_weights").asText()).isEqualTo("gaussian");
        assertThat(back.get("future_key").toString()).isEqualTo("{\"a\":[1,2]}");
        assertThat(back.has("extras")).isFalse();
        assertThat(PeftJson.read(written, LoraConfig.class)).isEqualTo(c);
        assertThat(written).startsWith("{\n  \"alpha_pattern\": {");
    }

    @Test
    void badValuesAreClearErrors() {
        assertThatThrownBy(() -> PeftJson.read("{\"r\":0,\"target_modules\":[\"q\"]}", LoraConfig.class)).isInstanceOf(PeftException.class)
                .hasMessageContaining("r must be a positive integer, got 0");
        assertThatThrownBy(() -> PeftJson.read("{\"lora_dropout\":1.5,\"target_modules\":[\"q\"]}", LoraConfig.class))
                .hasMessageContaining("lora_dropout").hasMessageContaining("1.5");
        assertThatThrownBy(() -> PeftJson.read("{\"bias\":\"some\",\"target_modules\":[\"q\"]}", LoraConfig.class))
                .hasMessageContaining("some").hasMessageContaining("lora_only");
        assertThatThrownBy(() -> PeftJson.read("{\"init_lora_weights\":\"pissa\",\"target_modules\":[\"q\"]}", LoraConfig.class))
                .hasMessageContaining("pissa");
        assertThatThrownBy(() -> PeftJson.read("{\"r\":4}", LoraConfig.class)).hasMessageContaining("target_modules");
        assertThatThrownBy(() -> PeftJson.read("{\"target_modules\":\".*q\",\"layers_to_transform\":[0]}", LoraConfig.class))
                .hasMessageContaining("layers_to_transform");
        assertThatThrownBy(() -> PeftJson.read("{\"r\":\"eight\",\"target_modules\":[\"q\"]}", LoraConfig.class)).isInstanceOf(PeftException.class)
                .hasMessageContaining("LoraConfig");
    }
}
