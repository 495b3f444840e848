package org.peft4j.ia3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.peft4j.api.PeftException;
import org.peft4j.core.io.PeftJson;
import org.peft4j.api.config.TargetModules;

class Ia3ConfigTest {

    @Test
    void missingKeysTakeHuggingFaceDefaults() {
        Ia3Config c = PeftJson.read("{\"peft_type\":\"IA3\",\"target_modules\":[\"key\",\"value\"]}", Ia3Config.class);
        assertThat(c.initIa3Weights()).isTrue();
        assertThat(c.fanInFanOut()).isFalse();
        assertThat(c.feedforwardModules()).isEqualTo(TargetModules.names());
        assertThat(c.modulesToSave()).isEmpty();
    }

    @Test
    void roundTripKeepsUnknownKeysAndHfNames() {
        String json = "{\"peft_type\":\"IA3\",\"target_modules\":[\"key\",\"value\",\"output.dense\"],"
                + "\"feedforward_modules\":[\"output.dense\"],\"init_ia3_weights\":false,\"task_type\":\"SEQ_CLS\","
                + "\"modules_to_save\":[\"classifier\"],\"future_key\":{\"a\":1}}";
        Ia3Config c = PeftJson.read(json, Ia3Config.class);
        String written = PeftJson.write(c);
        ObjectNode back = PeftJson.parseObject(written);
        assertThat(back.get("peft_type").asText()).isEqualTo("IA3");
        assertThat(back.get("feedforward_modules").toString()).isEqualTo("[\"output.dense\"]");
        assertThat(back.get("init_ia3_weights").asBoolean()).isFalse();
        assertThat(back.get("fan_in_fan_out").asBoolean()).isFalse();
        assertThat(back.get("future_key").toString()).isEqualTo("{\"a\":1}");
        assertThat(back.has("extras")).isFalse();
        assertThat(PeftJson.read(written, Ia3Config.class)).isEqualTo(c);
    }

    @Test
    void badValuesAreClearErrors() {
        assertThatThrownBy(() -> PeftJson.read("{\"peft_type\":\"IA3\"}", Ia3Config.class)).isInstanceOf(PeftException.class)
                .hasMessageContaining("target_modules is required").hasMessageContaining("output.dense");
        assertThatThrownBy(() -> PeftJson.read("{\"target_modules\":[\"key\"],\"feedforward_modules\":[\"output.dense\"]}", Ia3Config.class))
                .isInstanceOf(PeftException.class).hasMessageContaining("subset")
                .hasMessageContaining("[output.dense]");
        assertThatThrownBy(() -> PeftJson.read("{\"target_modules\":[\"key\"],\"init_ia3_weights\":\"ones\"}", Ia3Config.class))
                .isInstanceOf(PeftException.class).hasMessageContaining("Ia3Config");
    }

    /**
     * The file holds exactly the keys HF PEFT 0.10's config class knows (a key it does not know makes versions
     * before 0.14 refuse the file): {@code exclude_modules}, new in 0.14, only when it is set.
     */
    @Test
    void writesExactlyHuggingFacesKeys() throws Exception {
        var json = PeftJson.mapper().readTree(PeftJson.writeForSave(Ia3Config.builder().targetModules("key", "value", "output.dense").feedforwardModules("output.dense").build()));
        java.util.List<String> keys = new java.util.ArrayList<>();
        json.fieldNames().forEachRemaining(keys::add);
        assertThat(keys).containsExactlyInAnyOrder("peft_type", "task_type", "base_model_name_or_path", "revision", "inference_mode", "modules_to_save", "target_modules", "feedforward_modules", "fan_in_fan_out", "init_ia3_weights");
    }

    @Test
    void excludeModulesIsWrittenWhenSet() throws Exception {
        var json = PeftJson.mapper().readTree(PeftJson.writeForSave(PeftJson.read(
                "{\"target_modules\": [\"query\"], \"exclude_modules\": [\"x\"]}", Ia3Config.class)));
        assertThat(json.get("exclude_modules").toString()).isEqualTo("[\"x\"]");
    }
}
