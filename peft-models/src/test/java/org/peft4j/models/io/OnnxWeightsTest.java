package org.peft4j.models.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.peft4j.api.PeftException;
import org.peft4j.core.io.HostTensor;
import org.peft4j.models.bert.BertConfig;

class OnnxWeightsTest {

    private static Map<String, HostTensor> weights;
    private static long loadMillis;

    @BeforeAll
    static void load() {
        MiniLm.weights(); // warm up class loading and JIT once, then time a second load
        long t0 = System.nanoTime();
        weights = MiniLm.weights();
        loadMillis = (System.nanoTime() - t0) / 1_000_000;
        System.out.println("MiniLm.weights() took " + loadMillis + " ms (warm), " + weights.size() + " tensors");
    }

    private static long[] shape(String name) {
        assertThat(weights).containsKey(name);
        return weights.get(name).shape();
    }

    @Test
    void miniLmHasEveryBertModelWeightWithItsShape() {
        BertConfig c = MiniLm.config();
        assertThat(c.numHiddenLayers()).isEqualTo(6);
        assertThat(c.hiddenSize()).isEqualTo(384);
        assertThat(c.intermediateSize()).isEqualTo(1536);
        assertThat(c.vocabSize()).isEqualTo(30522);
        assertThat(weights).hasSize(5 + 6 * 16 + 2);
        assertThat(weights.keySet()).containsExactlyElementsOf(OnnxWeights.expectedNames(6, true));

        assertThat(shape("embeddings.word_embeddings.weight")).containsExactly(30522, 384);
        assertThat(shape("embeddings.position_embeddings.weight")).containsExactly(512, 384);
        assertThat(shape("embeddings.token_type_embeddings.weight")).containsExactly(2, 384);
        assertThat(shape("embeddings.LayerNorm.weight")).containsExactly(384);
        assertThat(shape("embeddings.LayerNorm.bias")).containsExactly(384);
        for (int i = 0; i < 6; i++) {
            String p = "encoder.layer." + i + ".";
            for (String m : List.of("attention.self.query", "attention.self.key", "attention.self.value",
                    "attention.output.dense")) {
                assertThat(shape(p + m + ".weight")).containsExactly(384, 384);
                assertThat(shape(p + m + ".bias")).containsExactly(384);
            }
            assertThat(shape(p + "attention.output.LayerNorm.weight")).containsExactly(384);
            assertThat(shape(p + "attention.output.LayerNorm.bias")).containsExactly(384);
            // (out, in): these two prove the MatMul initializers were transposed to PyTorch layout
            assertThat(shape(p + "intermediate.dense.weight")).containsExactly(1536, 384);
            assertThat(shape(p + "intermediate.dense.bias")).containsExactly(1536);
            assertThat(shape(p + "output.dense.weight")).containsExactly(384, 1536);
            assertThat(shape(p + "output.dense.bias")).containsExactly(384);
            assertThat(shape(p + "output.LayerNorm.weight")).containsExactly(384);
            assertThat(shape(p + "output.LayerNorm.bias")).containsExactly(384);
        }
        assertThat(shape("pooler.dense.weight")).containsExactly(384, 384);
        assertThat(shape("pooler.dense.bias")).containsExactly(384);
        // LayerNorm gains are near 1, not garbage
        float[] gamma = weights.get("encoder.layer.0.output.LayerNorm.weight").data();
        double mean = 0;
        for (float g : gamma) {
            mean += g / gamma.length;
        }
        assertThat(mean).isBetween(0.3, 3.0);
    }

    @Test
    void readBertInfersTheMiniLmConfigIncludingHeadsAndEps() throws Exception {
        try (InputStream in = MiniLm.onnx()) {
            OnnxWeights.BertWeights bert = OnnxWeights.readBert(in);
            assertThat(bert.config()).isEqualTo(BertConfig.miniLmL6());
            assertThat(bert.weights().keySet()).isEqualTo(weights.keySet());
        }
        assertThat(OnnxWeights.inferConfig(weights, 12)).isEqualTo(BertConfig.miniLmL6());
    }

    @Test
    void valuesMatchTheOnnxInitializers() throws Exception {
        OnnxMl.GraphProto graph;
        try (InputStream in = MiniLm.onnx()) {
            graph = OnnxMl.ModelProto.parseFrom(in).getGraph();
        }
        FloatBuffer word = raw(graph, "embeddings.word_embeddings.weight");
        float[] ours = weights.get("embeddings.word_embeddings.weight").data();
        for (int j = 0; j < 384; j++) { // row of token 101, [CLS]
            assertThat(ours[101 * 384 + j]).isEqualTo(word.get(101 * 384 + j));
        }
        // the query MatMul of layer 0 consumes onnx::MatMul_885 laid out (in, out); ours is (out, in)
        String init = graph.getNodeList().stream()
                .filter(n -> n.getName().equals("/encoder/layer.0/attention/self/query/MatMul"))
                .findFirst().orElseThrow().getInput(1);
        FloatBuffer q = raw(graph, init);
        float[] query = weights.get("encoder.layer.0.attention.self.query.weight").data();
        for (int out = 0; out < 384; out += 37) {
            for (int in = 0; in < 384; in += 11) {
                assertThat(query[out * 384 + in]).isEqualTo(q.get(in * 384 + out));
            }
        }
    }

    /**
     * Numerical orientation check on a square (ambiguous) weight: ONNX Runtime computes layer 0's query projection
     * (the graph is given an extra output), and so do we from the loaded weights, q = LN(embeddings) W^T + b.
     */
    @Test
    void queryProjectionMatchesOnnxRuntime() throws Exception {
        String lnOut = "/embeddings/LayerNorm/Add_1_output_0";
        String qOut = "/encoder/layer.0/attention/self/query/Add_output_0";
        OnnxMl.ModelProto model;
        try (InputStream in = MiniLm.onnx()) {
            model = OnnxMl.ModelProto.parseFrom(in);
        }
        OnnxMl.ModelProto.Builder b = model.toBuilder();
        for (String name : List.of(lnOut, qOut)) {
            b.getGraphBuilder().addOutput(OnnxMl.ValueInfoProto.newBuilder().setName(name)
                    .setType(OnnxMl.TypeProto.newBuilder().setTensorType(OnnxMl.TypeProto.Tensor.newBuilder()
                            .setElemType(OnnxMl.TensorProto.DataType.FLOAT_VALUE))));
        }
        long[] ids = {101, 7592, 1010, 2088, 999, 102}; // [CLS] hello , world ! [SEP]
        long[] types = {0, 0, 0, 0, 0, 0};
        int t = ids.length;
        float[] ortLn;
        float[] ortQ;
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setIntraOpNumThreads(2);
            opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
            try (OrtSession s = env.createSession(b.build().toByteArray(), opts);
                    OnnxTensor idT = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {1, t});
                    OnnxTensor maskT = OnnxTensor.createTensor(env, LongBuffer.wrap(new long[] {1, 1, 1, 1, 1, 1}),
                            new long[] {1, t});
                    OnnxTensor typeT = OnnxTensor.createTensor(env, LongBuffer.wrap(types), new long[] {1, t});
                    OrtSession.Result r = s.run(Map.of("input_ids", idT, "attention_mask", maskT,
                            "token_type_ids", typeT), Set.of(lnOut, qOut))) {
                ortLn = floats((OnnxTensor) r.get(lnOut).orElseThrow());
                ortQ = floats((OnnxTensor) r.get(qOut).orElseThrow());
            }
        }
        int h = 384;
        float[] word = weights.get("embeddings.word_embeddings.weight").data();
        float[] pos = weights.get("embeddings.position_embeddings.weight").data();
        float[] type = weights.get("embeddings.token_type_embeddings.weight").data();
        float[] gamma = weights.get("embeddings.LayerNorm.weight").data();
        float[] beta = weights.get("embeddings.LayerNorm.bias").data();
        float[] wq = weights.get("encoder.layer.0.attention.self.query.weight").data();
        float[] bq = weights.get("encoder.layer.0.attention.self.query.bias").data();
        double maxLn = 0;
        double maxQ = 0;
        double maxQTransposed = 0;
        for (int i = 0; i < t; i++) {
            double[] x = new double[h];
            double mean = 0;
            for (int j = 0; j < h; j++) {
                x[j] = word[(int) ids[i] * h + j] + pos[i * h + j] + type[(int) types[i] * h + j];
                mean += x[j] / h;
            }
            double var = 0;
            for (int j = 0; j < h; j++) {
                var += (x[j] - mean) * (x[j] - mean) / h;
            }
            for (int j = 0; j < h; j++) {
                x[j] = (x[j] - mean) / Math.sqrt(var + 1e-12) * gamma[j] + beta[j];
                maxLn = Math.max(maxLn, Math.abs(x[j] - ortLn[i * h + j]));
            }
            for (int o = 0; o < h; o++) {
                double q = bq[o];
                double qt = bq[o];
                for (int j = 0; j < h; j++) {
                    q += x[j] * wq[o * h + j];
                    qt += x[j] * wq[j * h + o];
                }
                maxQ = Math.max(maxQ, Math.abs(q - ortQ[i * h + o]));
                maxQTransposed = Math.max(maxQTransposed, Math.abs(qt - ortQ[i * h + o]));
            }
        }
        System.out.printf("layer-0 parity vs ORT: LayerNorm %.2e, query %.2e (wrong orientation would be %.2e)%n",
                maxLn, maxQ, maxQTransposed);
        assertThat(maxLn).isLessThan(1e-4);
        assertThat(maxQ).isLessThan(1e-4);
        assertThat(maxQTransposed).isGreaterThan(1e-1);
    }

    @Test
    void readsTorchExportStyleGraphs() {
        SyntheticBert b = SyntheticBert.build(SyntheticBert.Style.TORCH_EXPORT, 2, true, null);
        OnnxWeights.BertWeights read = OnnxWeights.readBert(new ByteArrayInputStream(b.bytes()));
        assertThat(read.weights()).isEqualTo(b.stateDict);
        assertThat(read.config()).isEqualTo(new BertConfig(SyntheticBert.VOCAB, SyntheticBert.HIDDEN, 2,
                SyntheticBert.HEADS, SyntheticBert.INTER, "gelu", SyntheticBert.POSITIONS, SyntheticBert.TYPES, 1e-12,
                0.1, 0.1));
    }

    @Test
    void readsAnonymousFloatDataConstantNodeAndGemmGraphs() {
        SyntheticBert b = SyntheticBert.build(SyntheticBert.Style.ANONYMOUS, 3, true, null);
        Map<String, HostTensor> read = OnnxWeights.read(new ByteArrayInputStream(b.bytes()));
        assertThat(read).isEqualTo(b.stateDict);
        assertThat(OnnxWeights.readBert(new ByteArrayInputStream(b.bytes())).config().numAttentionHeads())
                .isEqualTo(SyntheticBert.HEADS);
    }

    @Test
    void poolerIsOptional() {
        SyntheticBert b = SyntheticBert.build(SyntheticBert.Style.TORCH_EXPORT, 1, false, null);
        Map<String, HostTensor> read = OnnxWeights.read(new ByteArrayInputStream(b.bytes()));
        assertThat(read).isEqualTo(b.stateDict).doesNotContainKey("pooler.dense.weight");
    }

    @Test
    void namesWhatIsMissing() {
        for (SyntheticBert.Style style : SyntheticBert.Style.values()) {
            for (String drop : List.of("encoder.layer.1.output.LayerNorm.bias", "encoder.layer.0.attention.self.key.weight",
                    "embeddings.token_type_embeddings.weight", "pooler.dense.bias")) {
                byte[] bytes = SyntheticBert.build(style, 2, true, drop).bytes();
                assertThatThrownBy(() -> OnnxWeights.read(new ByteArrayInputStream(bytes)))
                        .isInstanceOf(PeftException.class).hasMessageContaining(drop)
                        .hasMessageContaining("not a BERT encoder");
            }
        }
    }

    @Test
    void rejectsWhatIsNotOnnx() {
        assertThatThrownBy(() -> OnnxWeights.read(new ByteArrayInputStream("not a model".getBytes())))
                .isInstanceOf(PeftException.class).hasMessageContaining("ONNX");
        assertThatThrownBy(() -> OnnxWeights.read(new ByteArrayInputStream(new byte[0])))
                .isInstanceOf(PeftException.class).hasMessageContaining("ONNX");
    }

    @Test
    void inferConfigNeedsTheEmbeddings() {
        assertThatThrownBy(() -> OnnxWeights.inferConfig(Map.of(), 12)).isInstanceOf(PeftException.class)
                .hasMessageContaining("embeddings.word_embeddings.weight");
    }

    @Test
    void namesFollowModulePaths() {
        assertThat(OnnxWeights.moduleOf("/encoder/layer.0/attention/self/query/MatMul"))
                .isEqualTo("encoder.layer.0.attention.self.query");
        assertThat(OnnxWeights.moduleOf("/bert/pooler/dense/Gemm")).isEqualTo("pooler.dense");
        assertThat(OnnxWeights.moduleOf("MatMul_12")).isNull();
        assertThat(OnnxWeights.stateDictName("bert.encoder.layer.3.output.dense.bias"))
                .isEqualTo("encoder.layer.3.output.dense.bias");
        assertThat(OnnxWeights.stateDictName("embeddings.position_ids")).isNull();
        assertThat(OnnxWeights.stateDictName("onnx::MatMul_885")).isNull();
    }

    private static FloatBuffer raw(OnnxMl.GraphProto graph, String name) {
        OnnxMl.TensorProto t = graph.getInitializerList().stream().filter(i -> i.getName().equals(name)).findFirst()
                .orElseThrow();
        return t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    }

    private static float[] floats(OnnxTensor t) {
        FloatBuffer b = t.getFloatBuffer();
        float[] out = new float[b.remaining()];
        b.get(out);
        return out;
    }
}
