package org.peft4j.models.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.api.PeftException;
import org.peft4j.core.io.HostTensor;
import org.peft4j.models.bert.BertConfig;
import org.peft4j.models.bert.BertForSequenceClassification;

/** Building a BERT graph: what it refuses, and that the weights read back as they went in. */
class BertOnnxTest {

    @Test
    void weightsAndConfigurationReadBackFromTheBuiltGraph() {
        BertConfig config = MiniLm.config();
        Map<String, HostTensor> weights = MiniLm.weights();
        byte[] onnx = BertOnnx.build(config, weights, null);
        OnnxWeights.BertWeights back = OnnxWeights.readBert(new ByteArrayInputStream(onnx));
        assertThat(back.weights()).isEqualTo(weights);
        assertThat(back.config().numAttentionHeads()).isEqualTo(config.numAttentionHeads());
        assertThat(back.config().layerNormEps()).isEqualTo(config.layerNormEps());
    }

    @Test
    void aMissingOrMisshapenWeightIsNamedBeforeAnythingIsBuilt() {
        Map<String, HostTensor> weights = new HashMap<>(MiniLm.weights());
        weights.remove("encoder.layer.3.attention.self.key.bias");
        weights.put("encoder.layer.5.output.dense.weight", new HostTensor(new long[] {384, 384}, new float[384 * 384]));
        assertThatThrownBy(() -> BertOnnx.build(MiniLm.config(), weights, null)).isInstanceOf(PeftException.class)
                .hasMessageContaining("encoder.layer.3.attention.self.key.bias missing")
                .hasMessageContaining("encoder.layer.5.output.dense.weight is [384, 384], expected [384, 1536]");
    }

    @Test
    void aPoolerHeadNeedsAPoolerAndTheEncodersWidth() {
        Map<String, HostTensor> weights = new HashMap<>(MiniLm.weights());
        weights.remove("pooler.dense.weight");
        weights.remove("pooler.dense.bias");
        BertOnnx.Head pooler = new BertOnnx.Head(BertForSequenceClassification.Pooling.CLS_POOLER,
                new HostTensor(new long[] {2, 384}, new float[768]), new HostTensor(new long[] {2}, new float[2]));
        assertThatThrownBy(() -> BertOnnx.build(MiniLm.config(), weights, pooler)).isInstanceOf(PeftException.class)
                .hasMessageContaining("no pooler");
        BertOnnx.Head narrow = new BertOnnx.Head(BertForSequenceClassification.Pooling.MEAN,
                new HostTensor(new long[] {2, 100}, new float[200]), new HostTensor(new long[] {2}, new float[2]));
        assertThatThrownBy(() -> BertOnnx.build(MiniLm.config(), weights, narrow)).isInstanceOf(PeftException.class)
                .hasMessageContaining("[2, 100]").hasMessageContaining("384");
        assertThatThrownBy(() -> new BertOnnx.Head(BertForSequenceClassification.Pooling.MEAN,
                new HostTensor(new long[] {2, 384}, new float[768]), new HostTensor(new long[] {3}, new float[3])))
                .isInstanceOf(PeftException.class).hasMessageContaining("(labels, hidden)");
    }
}
