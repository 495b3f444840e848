package org.peft4j.models.io;

import ai.onnx.proto.OnnxMl;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.peft4j.api.PeftException;
import org.peft4j.core.io.HostTensor;
import org.peft4j.models.bert.BertConfig;
import org.peft4j.models.bert.BertForSequenceClassification;

/**
 * Writes a BERT encoder as an ONNX model that ONNX Runtime, LangChain4j's {@code OnnxEmbeddingModel} and other
 * ONNX consumers load: either a graph built from Hugging Face {@code BertModel} weights and their configuration
 * ({@link #build}), or an existing exported graph with new weights ({@link #withWeights}); in both cases with a
 * classification head as an extra {@value #LOGITS} output when one is given.
 *
 * <p>A built graph has the inputs {@code input_ids}, {@code attention_mask} and {@code token_type_ids} (int64,
 * {@code [batch, sequence]}) and the outputs {@value #LAST_HIDDEN_STATE} ({@code [batch, sequence, hidden]}, first,
 * as consumers that take the first output expect), {@value #POOLER_OUTPUT} when the weights have a pooler, and
 * {@value #LOGITS} with a head. It computes what peft4j's {@code BertModel} computes: nodes are named after
 * PyTorch's module paths, as {@code torch.onnx.export} names them, so {@link OnnxWeights#readBert} reads the weights
 * and configuration back.
 */
public final class BertOnnx {
    /** Output name of the last hidden state in a built graph (Optimum's name). */
    public static final String LAST_HIDDEN_STATE = "last_hidden_state";
    /** Output name of the pooler's output in a built graph. */
    public static final String POOLER_OUTPUT = "pooler_output";
    /** Output name of the classification head's logits ({@code [batch, labels]}). */
    public static final String LOGITS = "logits";

    /** Opset of built graphs: 17 has {@code LayerNormalization}; ONNX Runtime 1.14 and later run it. */
    private static final int OPSET = 17;

    private BertOnnx() {}

    /**
     * A trained classification head: {@code logits = pooled · weightᵀ + bias}.
     *
     * @param pooling what it reads: the pooler's output for the first position, or the mean over real tokens
     * @param weight (labels, hidden)
     * @param bias (labels)
     */
    public record Head(BertForSequenceClassification.Pooling pooling, HostTensor weight, HostTensor bias) {
        public Head {
            if (weight.shape().length != 2 || bias.shape().length != 1 || bias.shape()[0] != weight.shape()[0]) {
                throw new PeftException("classification head shapes " + Arrays.toString(weight.shape()) + " and "
                        + Arrays.toString(bias.shape()) + " are not (labels, hidden) and (labels)");
            }
        }
    }

    /**
     * A graph computing the encoder of {@code config} with {@code weights} (Hugging Face {@code BertModel} names,
     * PyTorch layout, {@code pooler.*} optional), plus {@code head}'s logits when it is not null.
     *
     * @return the serialised ONNX model
     * @throws PeftException if a weight is missing or has another shape than {@code config} implies, or the head
     *     needs a pooler the weights do not have
     */
    public static byte[] build(BertConfig config, Map<String, HostTensor> weights, Head head) {
        check(config, weights, head);
        Graph g = new Graph();
        String ids = g.input("input_ids");
        String mask = g.input("attention_mask");
        String types = g.input("token_type_ids");
        long hidden = config.hiddenSize();
        int heads = config.numAttentionHeads();
        float eps = (float) config.layerNormEps();

        // embeddings: words + positions 0..seq-1 + token types, then LayerNorm
        String words = g.node("Gather", "/embeddings/word_embeddings/Gather",
                List.of(g.weight("embeddings.word_embeddings.weight", weights), ids));
        String seqLen = g.node("Gather", "/embeddings/Gather",
                List.of(g.node("Shape", "/embeddings/Shape", List.of(ids)), g.ints("seq_axis", new long[0], 1)));
        String positionIds = g.node("Range", "/embeddings/Range",
                List.of(g.ints("zero", new long[0], 0), seqLen, g.ints("one", new long[0], 1)));
        String positions = g.node("Gather", "/embeddings/position_embeddings/Gather",
                List.of(g.weight("embeddings.position_embeddings.weight", weights), positionIds));
        String typeRows = g.node("Gather", "/embeddings/token_type_embeddings/Gather",
                List.of(g.weight("embeddings.token_type_embeddings.weight", weights), types));
        String sum = g.node("Add", "/embeddings/Add_1", List.of(g.node("Add", "/embeddings/Add",
                List.of(words, typeRows)), positions));
        String h = layerNorm(g, "embeddings.LayerNorm", sum, weights, eps);

        // (mask - 1) * 1e9 over keys, [batch, 1, 1, seq], as peft4j's attention adds it
        String maskF = g.node("Cast", "/Cast", List.of(mask), Graph.intAttr("to", OnnxMl.TensorProto.DataType.FLOAT_VALUE));
        String additive = g.node("Unsqueeze", "/Unsqueeze", List.of(g.node("Mul", "/Mul", List.of(
                g.node("Sub", "/Sub", List.of(maskF, g.floats("one_f", 1f))), g.floats("big", 1e9f))),
                g.ints("mask_axes", new long[] {2}, 1, 2)));

        String headShape = g.ints("head_shape", new long[] {4}, 0, 0, heads, hidden / heads);
        String mergedShape = g.ints("merged_shape", new long[] {3}, 0, 0, hidden);
        String scale = g.floats("score_scale", (float) (1.0 / Math.sqrt((double) hidden / heads)));
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            String p = "encoder.layer." + i;
            String n = "/encoder/layer." + i;
            String self = n + "/attention/self";
            String q = g.node("Transpose", self + "/Transpose", List.of(g.node("Reshape", self + "/Reshape",
                    List.of(linear(g, p + ".attention.self.query", h, weights), headShape))), Graph.intsAttr("perm", 0, 2, 1, 3));
            String kT = g.node("Transpose", self + "/Transpose_1", List.of(g.node("Reshape", self + "/Reshape_1",
                    List.of(linear(g, p + ".attention.self.key", h, weights), headShape))), Graph.intsAttr("perm", 0, 2, 3, 1));
            String v = g.node("Transpose", self + "/Transpose_2", List.of(g.node("Reshape", self + "/Reshape_2",
                    List.of(linear(g, p + ".attention.self.value", h, weights), headShape))), Graph.intsAttr("perm", 0, 2, 1, 3));
            String scores = g.node("Add", self + "/Add", List.of(g.node("Mul", self + "/Mul",
                    List.of(g.node("MatMul", self + "/MatMul", List.of(q, kT)), scale)), additive));
            String probs = g.node("Softmax", self + "/Softmax", List.of(scores), Graph.intAttr("axis", -1));
            String context = g.node("Reshape", self + "/Reshape_3", List.of(g.node("Transpose", self + "/Transpose_3",
                    List.of(g.node("MatMul", self + "/MatMul_1", List.of(probs, v))), Graph.intsAttr("perm", 0, 2, 1, 3)),
                    mergedShape));
            String attn = linear(g, p + ".attention.output.dense", context, weights);
            String h1 = layerNorm(g, p + ".attention.output.LayerNorm",
                    g.node("Add", n + "/attention/output/Add", List.of(attn, h)), weights, eps);
            String inner = gelu(g, n + "/intermediate/intermediate_act_fn", linear(g, p + ".intermediate.dense", h1, weights));
            String out = linear(g, p + ".output.dense", inner, weights);
            h = layerNorm(g, p + ".output.LayerNorm", g.node("Add", n + "/output/Add", List.of(out, h1)), weights, eps);
        }
        g.output(h, LAST_HIDDEN_STATE, "batch", "sequence", hidden);
        String pooled = null;
        if (weights.containsKey("pooler.dense.weight")) {
            String first = g.node("Gather", "/pooler/Gather", List.of(h, g.ints("first", new long[0], 0)),
                    Graph.intAttr("axis", 1));
            pooled = g.node("Tanh", "/pooler/activation/Tanh", List.of(linear(g, "pooler.dense", first, weights)));
            g.output(pooled, POOLER_OUTPUT, "batch", hidden);
        }
        if (head != null) {
            addHead(g, head, h, pooled, maskF);
        }
        return g.model().toByteArray();
    }

    /**
     * The exported BERT graph in {@code onnx} with {@code weights} in place of its own (see
     * {@link OnnxWeights#withWeights}), plus {@code head}'s logits as the output {@value #LOGITS} when it is not
     * null. The head reads the graph's first output (the last hidden state) and, for the pooler, the output of its
     * {@code /pooler/activation/Tanh} node.
     *
     * @throws PeftException as {@link OnnxWeights#withWeights}, or if the head needs a pooler the graph lacks
     */
    public static byte[] withWeights(InputStream onnx, Map<String, HostTensor> weights, Head head) {
        OnnxMl.ModelProto model = OnnxWeights.replaceWeights(onnx, weights);
        if (head == null) {
            return model.toByteArray();
        }
        Graph g = new Graph(model);
        String hidden = model.getGraph().getOutput(0).getName();
        String pooled = null;
        for (OnnxMl.NodeProto n : model.getGraph().getNodeList()) {
            if (n.getOpType().equals("Tanh") && "pooler.activation".equals(OnnxWeights.moduleOf(n.getName()))) {
                pooled = n.getOutput(0);
            }
        }
        String mask = null;
        for (OnnxMl.ValueInfoProto in : model.getGraph().getInputList()) {
            if (in.getName().equals("attention_mask")) {
                mask = g.node("Cast", "/head/Cast", List.of(in.getName()),
                        Graph.intAttr("to", OnnxMl.TensorProto.DataType.FLOAT_VALUE));
            }
        }
        if (mask == null) {
            throw new PeftException("the ONNX graph has no attention_mask input; inputs: "
                    + model.getGraph().getInputList().stream().map(OnnxMl.ValueInfoProto::getName).toList());
        }
        addHead(g, head, hidden, pooled, mask);
        return g.model().toByteArray();
    }

    /** The head's nodes and the {@value #LOGITS} output; {@code maskF} is the float attention mask. */
    private static void addHead(Graph g, Head head, String hidden, String pooled, String maskF) {
        String input;
        if (head.pooling() == BertForSequenceClassification.Pooling.MEAN) {
            // sum(h * m) / (sum(m) + 1e-9) over the sequence, as BertModel.meanPool
            String m = g.node("Unsqueeze", "/head/Unsqueeze", List.of(maskF, g.ints("head_mask_axes", new long[] {1}, 2)));
            String axis = g.ints("head_seq_axis", new long[] {1}, 1);
            String total = g.node("ReduceSum", "/head/ReduceSum", List.of(g.node("Mul", "/head/Mul",
                    List.of(hidden, m)), axis), Graph.intAttr("keepdims", 0));
            String count = g.node("Add", "/head/Add", List.of(g.node("ReduceSum", "/head/ReduceSum_1", List.of(m, axis),
                    Graph.intAttr("keepdims", 0)), g.floats("head_tiny", 1e-9f)));
            input = g.node("Div", "/head/Div", List.of(total, count));
        } else {
            if (pooled == null) {
                throw new PeftException("the classification head reads the pooler's output, but the encoder has no"
                        + " pooler (no pooler.dense weights)");
            }
            input = pooled;
        }
        String weightT = g.initializer("classifier.weight_t", OnnxWeights.transpose(head.weight()));
        String logits = g.node("Add", "/classifier/Add", List.of(g.node("MatMul", "/classifier/MatMul",
                List.of(input, weightT)), g.initializer("classifier.bias", head.bias())));
        g.output(logits, LOGITS, "batch", head.weight().shape()[0]);
    }

    /** {@code x · Wᵀ + b} of the Linear at {@code path}, its weight stored transposed as MatMul takes it. */
    private static String linear(Graph g, String path, String x, Map<String, HostTensor> weights) {
        String module = nodePath(path);
        String w = g.initializer(path + ".weight_t", OnnxWeights.transpose(weights.get(path + ".weight")));
        return g.node("Add", module + "/Add", List.of(g.node("MatMul", module + "/MatMul", List.of(x, w)),
                g.weight(path + ".bias", weights)));
    }

    /** A module path as torch.onnx.export names nodes: encoder.layer.0.output.dense -> /encoder/layer.0/output/dense. */
    private static String nodePath(String path) {
        return "/" + path.replace('.', '/').replace("/layer/", "/layer.");
    }

    private static String layerNorm(Graph g, String path, String x, Map<String, HostTensor> weights, float eps) {
        String module = nodePath(path);
        return g.node("LayerNormalization", module + "/LayerNormalization",
                List.of(x, g.weight(path + ".weight", weights), g.weight(path + ".bias", weights)),
                Graph.intAttr("axis", -1), Graph.floatAttr("epsilon", eps));
    }

    /** The exact (erf) GELU: {@code x · 0.5 · (1 + erf(x / √2))}, as BERT's {@code gelu}. */
    private static String gelu(Graph g, String module, String x) {
        String erf = g.node("Erf", module + "/Erf", List.of(g.node("Div", module + "/Div",
                List.of(x, g.floats("sqrt2", (float) Math.sqrt(2))))));
        return g.node("Mul", module + "/Mul_1", List.of(g.node("Mul", module + "/Mul", List.of(x,
                g.node("Add", module + "/Add", List.of(erf, g.floats("one_f", 1f))))), g.floats("half", 0.5f)));
    }

    /** Every weight the graph needs, present and of the shape {@code config} implies, before anything is built. */
    private static void check(BertConfig c, Map<String, HostTensor> weights, Head head) {
        long h = c.hiddenSize();
        List<String> bad = new ArrayList<>();
        for (String name : OnnxWeights.expectedNames(c.numHiddenLayers(), weights.containsKey("pooler.dense.weight"))) {
            HostTensor t = weights.get(name);
            long[] want = OnnxWeights.expectedShape(name, c.vocabSize(), h, c.maxPositionEmbeddings(),
                    c.typeVocabSize(), c.intermediateSize());
            if (t == null || !Arrays.equals(t.shape(), want)) {
                bad.add(name + (t == null ? " missing" : " is " + Arrays.toString(t.shape()) + ", expected "
                        + Arrays.toString(want)));
            }
        }
        if (!bad.isEmpty()) {
            throw new PeftException("cannot build the ONNX graph: " + String.join("; ", bad));
        }
        if (head != null && head.weight().shape()[1] != h) {
            throw new PeftException("classification head is " + Arrays.toString(head.weight().shape())
                    + ", the encoder's hidden size is " + h);
        }
    }

    /** A graph under construction: initializers, nodes and outputs, each value named once. */
    private static final class Graph {
        private final OnnxMl.ModelProto.Builder model;
        private final OnnxMl.GraphProto.Builder graph;
        private final java.util.Set<String> initializers = new java.util.HashSet<>();

        Graph() {
            model = OnnxMl.ModelProto.newBuilder().setIrVersion(8).setProducerName("peft4j")
                    .addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET));
            graph = OnnxMl.GraphProto.newBuilder().setName("bert");
        }

        Graph(OnnxMl.ModelProto existing) {
            model = existing.toBuilder();
            graph = existing.getGraph().toBuilder();
            graph.getInitializerList().forEach(t -> initializers.add(t.getName()));
        }

        OnnxMl.ModelProto model() {
            return model.setGraph(graph).build();
        }

        /** An int64 {@code [batch, sequence]} input. */
        String input(String name) {
            graph.addInput(OnnxMl.ValueInfoProto.newBuilder().setName(name).setType(type(
                    OnnxMl.TensorProto.DataType.INT64_VALUE, "batch", "sequence")));
            return name;
        }

        /** A float output named {@code name}, the value of {@code value}; each dimension a name (dynamic) or a size. */
        void output(String value, String name, Object... dims) {
            graph.addNode(OnnxMl.NodeProto.newBuilder().setOpType("Identity").setName("/" + name + "/Identity")
                    .addInput(value).addOutput(name));
            graph.addOutput(OnnxMl.ValueInfoProto.newBuilder().setName(name)
                    .setType(type(OnnxMl.TensorProto.DataType.FLOAT_VALUE, dims)));
        }

        /** The weight {@code name} of {@code weights} as an initializer of that name. */
        String weight(String name, Map<String, HostTensor> weights) {
            return initializer(name, weights.get(name));
        }

        String initializer(String name, HostTensor t) {
            if (initializers.add(name)) {
                graph.addInitializer(OnnxWeights.floatTensor(name, t));
            }
            return name;
        }

        /** A float scalar constant, shared by name. */
        String floats(String name, float value) {
            return initializer(name, new HostTensor(new long[0], new float[] {value}));
        }

        /** An int64 constant of {@code shape}, shared by name. */
        String ints(String name, long[] shape, long... values) {
            if (initializers.add(name)) {
                OnnxMl.TensorProto.Builder t = OnnxMl.TensorProto.newBuilder().setName(name)
                        .setDataType(OnnxMl.TensorProto.DataType.INT64_VALUE);
                for (long d : shape) {
                    t.addDims(d);
                }
                for (long v : values) {
                    t.addInt64Data(v);
                }
                graph.addInitializer(t);
            }
            return name;
        }

        /** A node whose one output is named after it; returns that output. */
        String node(String op, String name, List<String> inputs, OnnxMl.AttributeProto... attributes) {
            String out = name + "_output_0";
            graph.addNode(OnnxMl.NodeProto.newBuilder().setOpType(op).setName(name).addAllInput(inputs)
                    .addOutput(out).addAllAttribute(Arrays.asList(attributes)));
            return out;
        }

        static OnnxMl.AttributeProto intAttr(String name, long value) {
            return OnnxMl.AttributeProto.newBuilder().setName(name).setType(OnnxMl.AttributeProto.AttributeType.INT)
                    .setI(value).build();
        }

        static OnnxMl.AttributeProto intsAttr(String name, long... values) {
            OnnxMl.AttributeProto.Builder a = OnnxMl.AttributeProto.newBuilder().setName(name)
                    .setType(OnnxMl.AttributeProto.AttributeType.INTS);
            for (long v : values) {
                a.addInts(v);
            }
            return a.build();
        }

        static OnnxMl.AttributeProto floatAttr(String name, float value) {
            return OnnxMl.AttributeProto.newBuilder().setName(name).setType(OnnxMl.AttributeProto.AttributeType.FLOAT)
                    .setF(value).build();
        }

        private static OnnxMl.TypeProto type(int elemType, Object... dims) {
            OnnxMl.TensorShapeProto.Builder shape = OnnxMl.TensorShapeProto.newBuilder();
            for (Object d : dims) {
                shape.addDim(d instanceof String s ? OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimParam(s)
                        : OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimValue(((Number) d).longValue()));
            }
            return OnnxMl.TypeProto.newBuilder().setTensorType(OnnxMl.TypeProto.Tensor.newBuilder()
                    .setElemType(elemType).setShape(shape)).build();
        }
    }
}
