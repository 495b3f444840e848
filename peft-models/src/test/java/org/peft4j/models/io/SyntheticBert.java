package org.peft4j.models.io;

import ai.onnx.proto.OnnxMl;
import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.peft4j.core.io.HostTensor;

/**
 * Builds small BERT-shaped ONNX graphs (not runnable, only the parameter-holding nodes) in the styles exporters
 * use, together with the state dict they encode, for tests of {@link OnnxWeights}.
 */
final class SyntheticBert {
    static final int VOCAB = 11;
    static final int HIDDEN = 4;
    static final int HEADS = 2;
    static final int INTER = 6;
    static final int POSITIONS = 8;
    static final int TYPES = 2;

    /** How parameters are stored. */
    enum Style {
        /** Like torch.onnx.export: HF-named initializers in raw_data, linear weights anonymous and transposed. */
        TORCH_EXPORT,
        /** Everything anonymous: float_data initializers, biases and LayerNorm as Constant nodes, Gemm pooler. */
        ANONYMOUS
    }

    final Map<String, HostTensor> stateDict = new LinkedHashMap<>();
    private final OnnxMl.GraphProto.Builder graph = OnnxMl.GraphProto.newBuilder().setName("bert");
    private final Style style;
    private final Random random = new Random(7);
    private int anon = 100;

    private SyntheticBert(Style style) {
        this.style = style;
    }

    /** The graph for a BERT of {@code layers} layers, optionally without the named tensor {@code drop}. */
    static SyntheticBert build(Style style, int layers, boolean pooler, String drop) {
        SyntheticBert b = new SyntheticBert(style);
        b.graph.addInput(OnnxMl.ValueInfoProto.newBuilder().setName("input_ids"));
        b.embedding("embeddings.word_embeddings", VOCAB, drop);
        b.embedding("embeddings.position_embeddings", POSITIONS, drop);
        b.embedding("embeddings.token_type_embeddings", TYPES, drop);
        b.layerNorm("embeddings.LayerNorm", drop);
        for (int i = 0; i < layers; i++) {
            String p = "encoder.layer." + i + ".";
            b.linear(p + "attention.self.query", HIDDEN, HIDDEN, drop);
            b.linear(p + "attention.self.key", HIDDEN, HIDDEN, drop);
            b.linear(p + "attention.self.value", HIDDEN, HIDDEN, drop);
            if (i == 0) {
                b.headSplit(p + "attention.self");
            }
            b.linear(p + "attention.output.dense", HIDDEN, HIDDEN, drop);
            b.layerNorm(p + "attention.output.LayerNorm", drop);
            b.linear(p + "intermediate.dense", INTER, HIDDEN, drop);
            b.linear(p + "output.dense", HIDDEN, INTER, drop);
            b.layerNorm(p + "output.LayerNorm", drop);
        }
        if (pooler) {
            b.gemm("pooler.dense", drop);
        }
        return b;
    }

    byte[] bytes() {
        return OnnxMl.ModelProto.newBuilder().setIrVersion(8).setProducerName("test")
                .addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setVersion(14)).setGraph(graph).build()
                .toByteArray();
    }

    private static String path(String module) {
        return "/" + module.replace('.', '/')
                // layer indices keep their dot in exported node names: /encoder/layer.0/...
                .replaceAll("layer/(\\d+)", "layer.$1");
    }

    private HostTensor random(long... shape) {
        int n = 1;
        for (long s : shape) {
            n *= (int) s;
        }
        float[] d = new float[n];
        for (int i = 0; i < n; i++) {
            d[i] = (float) random.nextGaussian();
        }
        return new HostTensor(shape, d);
    }

    private void embedding(String module, int rows, String drop) {
        HostTensor w = random(rows, HIDDEN);
        String name = module + ".weight";
        stateDict.put(name, w);
        if (name.equals(drop)) {
            return;
        }
        String value = style == Style.TORCH_EXPORT ? name : "onnx::Gather_" + anon++;
        graph.addInitializer(tensor(value, w, style == Style.ANONYMOUS));
        node("Gather", path(module) + "/Gather", value, "input_ids");
    }

    private void layerNorm(String module, String drop) {
        HostTensor w = random(HIDDEN);
        HostTensor b = random(HIDDEN);
        stateDict.put(module + ".weight", w);
        stateDict.put(module + ".bias", b);
        String p = path(module);
        String eps = constant(p + "/Constant_1", new HostTensor(new long[0], new float[] {1e-12f}));
        node("Add", p + "/Add", p + "/ReduceMean_1_output_0", eps);
        if (!(module + ".weight").equals(drop)) {
            node("Mul", p + "/Mul", p + "/Div_output_0", param(module + ".weight", w));
        }
        if (!(module + ".bias").equals(drop)) {
            node("Add", p + "/Add_1", p + "/Mul_output_0", param(module + ".bias", b));
        }
    }

    private void linear(String module, int out, int in, String drop) {
        HostTensor w = random(out, in);
        HostTensor b = random(out);
        stateDict.put(module + ".weight", w);
        stateDict.put(module + ".bias", b);
        String p = path(module);
        if (!(module + ".weight").equals(drop)) {
            String value = "onnx::MatMul_" + anon++;
            graph.addInitializer(tensor(value, OnnxWeights.transpose(w), style == Style.ANONYMOUS));
            node("MatMul", p + "/MatMul", "x", value);
        }
        if (!(module + ".bias").equals(drop)) {
            node("Add", p + "/Add", param(module + ".bias", b), p + "/MatMul_output_0");
        }
    }

    private void gemm(String module, String drop) {
        HostTensor w = random(HIDDEN, HIDDEN);
        HostTensor b = random(HIDDEN);
        stateDict.put(module + ".weight", w);
        stateDict.put(module + ".bias", b);
        boolean transB = style == Style.TORCH_EXPORT;
        String wv = style == Style.TORCH_EXPORT ? module + ".weight" : "onnx::Gemm_" + anon++;
        String bv = style == Style.TORCH_EXPORT ? module + ".bias" : "onnx::Gemm_" + anon++;
        if (!(module + ".weight").equals(drop)) {
            graph.addInitializer(tensor(wv, transB ? w : OnnxWeights.transpose(w), style == Style.ANONYMOUS));
        }
        if (!(module + ".bias").equals(drop)) {
            graph.addInitializer(tensor(bv, b, style == Style.ANONYMOUS));
        }
        OnnxMl.NodeProto.Builder n = OnnxMl.NodeProto.newBuilder().setOpType("Gemm").setName(path(module) + "/Gemm")
                .addInput("/pooler/Gather_output_0").addInput(wv).addInput(bv).addOutput(path(module) + "/Gemm_output_0");
        if (transB) {
            n.addAttribute(OnnxMl.AttributeProto.newBuilder().setName("transB").setI(1)
                    .setType(OnnxMl.AttributeProto.AttributeType.INT));
        }
        graph.addNode(n);
    }

    /** A head-splitting Reshape whose shape is Concat(batch, seq, heads, head_size). */
    private void headSplit(String module) {
        String p = path(module);
        String heads = constantLongs(p + "/Constant_2", HEADS);
        String size = constantLongs(p + "/Constant_3", HIDDEN / HEADS);
        node("Concat", p + "/Concat", p + "/Unsqueeze_output_0", p + "/Unsqueeze_1_output_0", heads, size);
        node("Reshape", p + "/Reshape", p + "/key/Add_output_0", p + "/Concat_output_0");
    }

    /** A named initializer (TORCH_EXPORT) or an anonymous Constant node (ANONYMOUS) holding {@code t}. */
    private String param(String name, HostTensor t) {
        if (style == Style.TORCH_EXPORT) {
            graph.addInitializer(tensor(name, t, false));
            return name;
        }
        return constant("Constant_" + anon++, t);
    }

    private String constant(String nodeName, HostTensor t) {
        String out = nodeName.startsWith("/") ? nodeName + "_output_0" : "onnx::Const_" + anon++;
        graph.addNode(OnnxMl.NodeProto.newBuilder().setOpType("Constant").setName(nodeName).addOutput(out)
                .addAttribute(OnnxMl.AttributeProto.newBuilder().setName("value")
                        .setType(OnnxMl.AttributeProto.AttributeType.TENSOR).setT(tensor("", t, true))));
        return out;
    }

    private String constantLongs(String nodeName, long... values) {
        String out = nodeName + "_output_0";
        OnnxMl.TensorProto.Builder t = OnnxMl.TensorProto.newBuilder()
                .setDataType(OnnxMl.TensorProto.DataType.INT64_VALUE).addDims(values.length);
        ByteBuffer bb = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            bb.putLong(v);
        }
        t.setRawData(ByteString.copyFrom(bb.array()));
        graph.addNode(OnnxMl.NodeProto.newBuilder().setOpType("Constant").setName(nodeName).addOutput(out)
                .addAttribute(OnnxMl.AttributeProto.newBuilder().setName("value")
                        .setType(OnnxMl.AttributeProto.AttributeType.TENSOR).setT(t)));
        return out;
    }

    private void node(String op, String name, String... inputs) {
        OnnxMl.NodeProto.Builder n = OnnxMl.NodeProto.newBuilder().setOpType(op).setName(name)
                .addOutput(name + "_output_0");
        for (String in : inputs) {
            n.addInput(in);
        }
        graph.addNode(n);
    }

    static OnnxMl.TensorProto tensor(String name, HostTensor t, boolean floatData) {
        OnnxMl.TensorProto.Builder b = OnnxMl.TensorProto.newBuilder().setName(name)
                .setDataType(OnnxMl.TensorProto.DataType.FLOAT_VALUE);
        for (long s : t.shape()) {
            b.addDims(s);
        }
        if (floatData) {
            for (float f : t.data()) {
                b.addFloatData(f);
            }
        } else {
            ByteBuffer bb = ByteBuffer.allocate(4 * t.data().length).order(ByteOrder.LITTLE_ENDIAN);
            bb.asFloatBuffer().put(t.data());
            b.setRawData(ByteString.copyFrom(bb.array()));
        }
        return b.build();
    }
}
