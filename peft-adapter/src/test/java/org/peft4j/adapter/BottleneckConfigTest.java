package org.peft4j.adapter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.peft4j.api.PeftException;
import org.peft4j.core.io.PeftJson;

class BottleneckConfigTest {

    private static BottleneckConfig parse(String json) {
        return PeftJson.bind(PeftJson.parseObject(json), BottleneckConfig.class);
    }

    @Test
    void presetsFillTheKeysLeftOut() {
        BottleneckConfig p = parse("{\"peft_type\":\"BOTTLENECK\"}");
        assertThat(p.config()).isEqualTo("pfeiffer");
        assertThat(p.mhAdapter()).isFalse();
        assertThat(p.outputAdapter()).isTrue();
        assertThat(p.reductionFactor()).isEqualTo(16f);
        assertThat(p.nonLinearity()).isEqualTo("relu");
        assertThat(p.isParallel()).isFalse();
        assertThat(p.lnBefore()).isFalse();
        assertThat(p.bottleneckSize(384)).isEqualTo(24);

        BottleneckConfig h = parse("{\"config\":\"double_seq_bn\"}");
        assertThat(h.config()).isEqualTo("houlsby");
        assertThat(h.mhAdapter()).isTrue();
        assertThat(h.outputAdapter()).isTrue();
        assertThat(h.nonLinearity()).isEqualTo("swish");
        assertThat(h.lnBefore()).isTrue();

        BottleneckConfig par = parse("{\"config\":\"parallel\",\"bottleneck_size\":7}");
        assertThat(par.isParallel()).isTrue();
        assertThat(par.scaling()).isEqualTo(4f);
        assertThat(par.reductionFactor()).isEqualTo(2f);
        assertThat(par.bottleneckSize(384)).isEqualTo(7);

        BottleneckConfig overridden = parse("{\"config\":\"houlsby\",\"non_linearity\":\"relu\",\"leave_out\":[0,1]}");
        assertThat(overridden.nonLinearity()).isEqualTo("relu");
        assertThat(overridden.leaveOut()).containsExactly(0, 1);
    }

    @Test
    void roundTripKeepsUnknownKeysAndAdapterHubNames() {
        BottleneckConfig c = parse("{\"peft_type\":\"BOTTLENECK\",\"config\":\"parallel\",\"reduction_factor\":8,"
                + "\"task_type\":\"SEQ_CLS\",\"modules_to_save\":[\"classifier\"],\"future_key\":[1,2]}");
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
        assertThat(parse(written)).isEqualTo(c);
        assertThat(BottleneckConfig.builder("pfeiffer").reductionFactor(8).build().reductionFactor()).isEqualTo(8f);
    }

    @Test
    void badValuesAreClearErrors() {
        assertThatThrownBy(() -> parse("{\"config\":\"lora\"}")).isInstanceOf(PeftException.class)
                .hasMessageContaining("'lora'").hasMessageContaining("pfeiffer").hasMessageContaining("houlsby");
        assertThatThrownBy(() -> parse("{\"non_linearity\":\"elu\"}")).hasMessageContaining("'elu'")
                .hasMessageContaining("swish");
        assertThatThrownBy(() -> parse("{\"reduction_factor\":0}")).hasMessageContaining("reduction_factor")
                .hasMessageContaining("0");
        assertThatThrownBy(() -> parse("{\"bottleneck_size\":-3}")).hasMessageContaining("bottleneck_size")
                .hasMessageContaining("-3");
        assertThatThrownBy(() -> parse("{\"mh_adapter\":false,\"output_adapter\":false}"))
                .hasMessageContaining("mh_adapter");
        assertThatThrownBy(() -> parse("{\"original_ln_before\":true}")).hasMessageContaining("original_ln_before");
        assertThatThrownBy(() -> parse("{\"leave_out\":[-1]}")).hasMessageContaining("leave_out");
    }
}
