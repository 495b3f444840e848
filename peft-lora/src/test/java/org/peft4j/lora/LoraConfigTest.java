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

    /**
     * The file holds exactly the keys HF PEFT 0.10's config class knows (a key it does not know makes versions
     * before 0.14 refuse the file): {@code exclude_modules}, new in 0.14, only when it is set.
     */
    @Test
    void writesExactlyHuggingFacesKeys() throws Exception {
        var json = PeftJson.mapper().readTree(PeftJson.writeForSave(LoraConfig.builder().targetModules("query").build()));
        java.util.List<String> keys = new java.util.ArrayList<>();
        json.fieldNames().forEachRemaining(keys::add);
        assertThat(keys).containsExactlyInAnyOrder("peft_type", "task_type", "base_model_name_or_path", "revision", "inference_mode", "modules_to_save", "target_modules", "layers_to_transform", "layers_pattern", "r", "lora_alpha", "lora_dropout", "bias", "init_lora_weights", "use_rslora", "use_dora", "rank_pattern", "alpha_pattern", "fan_in_fan_out");
    }

    @Test
    void excludeModulesIsWrittenWhenSet() throws Exception {
        var json = PeftJson.mapper().readTree(PeftJson.writeForSave(PeftJson.read(
                "{\"target_modules\": [\"query\"], \"exclude_modules\": [\"x\"]}", LoraConfig.class)));
        assertThat(json.get("exclude_modules").toString()).isEqualTo("[\"x\"]");
    }
}
