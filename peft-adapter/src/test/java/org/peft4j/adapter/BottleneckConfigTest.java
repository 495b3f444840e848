package org.peft4j.adapter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.peft4j.api.PeftException;
import org.peft4j.core.io.PeftJson;

class BottleneckConfigTest {

    @Test
    void presetsFillTheKeysLeftOut() {
        BottleneckConfig p = PeftJson.read("{\"peft_type\":\"BOTTLENECK\"}", BottleneckConfig.class);
        assertThat(p.config()).isEqualTo("pfeiffer");
        assertThat(p.mhAdapter()).isFalse();
        assertThat(p.outputAdapter()).isTrue();
        assertThat(p.reductionFactor()).isEqualTo(16f);
        assertThat(p.nonLinearity()).isEqualTo("relu");
        assertThat(p.isParallel()).isFalse();
        assertThat(p.lnBefore()).isFalse();
        assertThat(p.bottleneckSize(384)).isEqualTo(24);

        BottleneckConfig h = PeftJson.read("{\"config\":\"double_seq_bn\"}", BottleneckConfig.class);
        assertThat(h.config()).isEqualTo("houlsby");
        assertThat(h.mhAdapter()).isTrue();
        assertThat(h.outputAdapter()).isTrue();
        assertThat(h.nonLinearity()).isEqualTo("swish");
        assertThat(h.lnBefore()).isTrue();

        BottleneckConfig par = PeftJson.read("{\"config\":\"parallel\",\"bottleneck_size\":7}", BottleneckConfig.class);
        assertThat(par.isParallel()).isTrue();
        assertThat(par.scaling()).isEqualTo(4f);
        assertThat(par.reductionFactor()).isEqualTo(2f);
        assertThat(par.bottleneckSize(384)).isEqualTo(7);

        BottleneckConfig overridden = PeftJson.read("{\"config\":\"houlsby\",\"non_linearity\":\"relu\",\"leave_out\":[0,1]}", BottleneckConfig.class);
        assertThat(overridden.nonLinearity()).isEqualTo("relu");
        assertThat(overridden.leaveOut()).containsExactly(0, 1);
    }

    @Test
    void roundTripKeepsUnknownKeysAndAdapterHubNames() {
        BottleneckConfig c = PeftJson.read("{\"peft_type\":\"BOTTLENECK\",\"config\":\"parallel\",\"reduction_factor\":8,"
                + "\"task_type\":\"SEQ_CLS\",\"modules_to_save\":[\"classifier\"],\"future_key\":[1,2]}", BottleneckConfig.class);
        String written = PeftJson.write(c);
        ObjectNode back = PeftJson.parseObject(written);
        assertThat(back.get("peft_type").asText()).isEqualTo("BOTTLENECK");
        assertThat(back.get("reduction_factor").asDouble()).isEqualTo(8.0);
        assertThat(back.get("is_parallel").asBoolean()).isTrue();
        assertThat(back.get("future_key").toString()).isEqualTo("[1,2]");
        assertThat(back.has("mh_adapter")).isTrue();
        assertThat(back.has("output_adapter")).isTrue();
        assertThat(back.has("non_linearity")).isTrue();
        assertThat(back.has("original_ln_before")).isTrue();
        assertThat(back.has("extras")).isFalse();
        assertThat(PeftJson.read(written, BottleneckConfig.class)).isEqualTo(c);
        assertThat(BottleneckConfig.builder("pfeiffer").reductionFactor(8).build().reductionFactor()).isEqualTo(8f);
    }

    @Test
    void badValuesAreClearErrors() {
        assertThatThrownBy(() -> PeftJson.read("{\"config\":\"lora\"}", BottleneckConfig.class)).isInstanceOf(PeftException.class)
                .hasMessageContaining("'lora'").hasMessageContaining("pfeiffer").hasMessageContaining("houlsby");
        assertThatThrownBy(() -> PeftJson.read("{\"non_linearity\":\"elu\"}", BottleneckConfig.class)).hasMessageContaining("'elu'")
                .hasMessageContaining("swish");
        assertThatThrownBy(() -> PeftJson.read("{\"reduction_factor\":0}", BottleneckConfig.class)).hasMessageContaining("reduction_factor")
                .hasMessageContaining("0");
        assertThatThrownBy(() -> PeftJson.read("{\"bottleneck_size\":-3}", BottleneckConfig.class)).hasMessageContaining("bottleneck_size")
                .hasMessageContaining("-3");
        assertThatThrownBy(() -> PeftJson.read("{\"mh_adapter\":false,\"output_adapter\":false}", BottleneckConfig.class))
                .hasMessageContaining("mh_adapter");
        assertThatThrownBy(() -> PeftJson.read("{\"original_ln_before\":true}", BottleneckConfig.class)).hasMessageContaining("original_ln_before");
        assertThatThrownBy(() -> PeftJson.read("{\"leave_out\":[-1]}", BottleneckConfig.class)).hasMessageContaining("leave_out");
    }
}
