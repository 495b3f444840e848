package org.peft4j.models.io;

import ai.onnx.proto.OnnxMl;
import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.peft4j.api.PeftException;
import org.peft4j.core.io.HostTensor;
import org.peft4j.models.bert.BertConfig;

/**
 * Reads the weights of a BERT encoder exported to ONNX (for example by {@code torch.onnx.export} or Optimum)
 * and returns them under the parameter names of a Hugging Face {@code BertModel} state dict, in PyTorch layout.
 *
 * <p>How names are recovered:
 * <ul>
 *   <li>Initializers (or {@code Constant} node values) that already carry a state-dict name, such as
 *       {@code embeddings.word_embeddings.weight} or {@code encoder.layer.0.attention.self.query.bias}, are taken
 *       as they are; a leading {@code bert.} is dropped.</li>
 *   <li>Linear weights that the exporter folded into anonymous initializers ({@code onnx::MatMul_885}) are
 *       identified by the node that consumes them: the {@code MatMul} called
 *       {@code /encoder/layer.0/attention/self/query/MatMul} gives {@code encoder.layer.0.attention.self.query.weight}.
 *       {@code MatMul} stores the weight as (in, out); it is transposed to PyTorch's (out, in). {@code Gemm} weights
 *       are transposed unless the node has {@code transB=1}.</li>
 *   <li>Anonymous biases are found the same way: the {@code Add} in the same module as a weight {@code MatMul}, the
 *       {@code Mul}/{@code Add} constants of a decomposed {@code LayerNorm}, the inputs of a
 *       {@code LayerNormalization} node, and the table of an embedding {@code Gather}.</li>
 * </ul>
 *
 * <p>Only the tensors of {@code BertModel} are returned (the pooler if the graph has one); anything else in the file
 * (task heads, {@code position_ids}) is ignored. Models whose weights are quantized, stored as external data, or
 * exported without node names are rejected with a {@link PeftException} naming the weights that could not be found.
 */
public final class OnnxWeights {

    private static final String[] PREFIXES = {"bert."};

    private OnnxWeights() {}

    /**
     * The ONNX model {@code onnx} with its BERT weights replaced by {@code weights} (by Hugging Face
     * {@code BertModel} name, PyTorch layout, the shapes the graph has): the same graph, new
     * initializers, so ONNX Runtime and anything else that ran the original runs the result. BERT
     * weights not given (the pooler) and every other tensor and node are kept as they are.
     *
     * @return the serialised model
     * @throws PeftException if the graph is not a BERT encoder or a weight has another shape than the graph's
     */
    public static byte[] withWeights(InputStream onnx, Map<String, HostTensor> weights) {
        return replaceWeights(onnx, weights).toByteArray();
    }

    /** {@link #withWeights} before serialisation. */
    static OnnxMl.ModelProto replaceWeights(InputStream onnx, Map<String, HostTensor> weights) {
        OnnxMl.ModelProto model = parse(onnx);
        Reader reader = new Reader(model.getGraph());
        Map<String, HostTensor> old = reader.weights();
        Map<String, OnnxMl.TensorProto> replaced = new HashMap<>();
        for (Map.Entry<String, HostTensor> e : old.entrySet()) {
            HostTensor now = weights.get(e.getKey());
            if (now == null) {
                continue; // not given (the pooler, which peft4j's encoder does not use): kept as it is
            }
            if (!Arrays.equals(now.shape(), e.getValue().shape())) {
                throw new PeftException("weight '" + e.getKey() + "' is " + Arrays.toString(now.shape())
                        + ", the ONNX graph has " + Arrays.toString(e.getValue().shape()));
            }
            String value = reader.sources.get(e.getKey());
            HostTensor stored = reader.transposed.contains(e.getKey()) ? transpose(now) : now;
            replaced.put(value, floatTensor(value, stored));
        }
        OnnxMl.GraphProto.Builder graph = model.getGraph().toBuilder();
        for (int i = 0; i < graph.getInitializerCount(); i++) {
            OnnxMl.TensorProto t = replaced.remove(graph.getInitializer(i).getName());
            if (t != null) {
                graph.setInitializer(i, t);
            }
        }
        for (int i = 0; i < graph.getNodeCount(); i++) {
            OnnxMl.NodeProto n = graph.getNode(i);
            if (n.getOpType().equals("Constant") && n.getOutputCount() == 1 && replaced.containsKey(n.getOutput(0))) {
                OnnxMl.TensorProto t = replaced.remove(n.getOutput(0));
                OnnxMl.NodeProto.Builder nb = n.toBuilder().clearAttribute();
                for (OnnxMl.AttributeProto a : n.getAttributeList()) {
                    nb.addAttribute(a.getName().equals("value") ? a.toBuilder().setT(t).build() : a);
                }
                graph.setNode(i, nb.build());
            }
        }
        return model.toBuilder().setGraph(graph).build();
    }

    /** A float32 tensor named {@code name}, little-endian raw data. */
    static OnnxMl.TensorProto floatTensor(String name, HostTensor t) {
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(4 * t.data().length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (float v : t.data()) {
            buf.putFloat(v);
        }
        OnnxMl.TensorProto.Builder b = OnnxMl.TensorProto.newBuilder().setName(name)
                .setDataType(OnnxMl.TensorProto.DataType.FLOAT.getNumber())
                .setRawData(com.google.protobuf.ByteString.copyFrom(buf.array()));
        for (long d : t.shape()) {
            b.addDims(d);
        }
        return b.build();
    }

    /**
     * A BERT encoder's weights with the configuration read from the same graph.
     *
     * @param weights tensors by Hugging Face {@code BertModel} name, PyTorch layout
     * @param config sizes from the weight shapes; attention heads and LayerNorm epsilon from the graph's constants
     */
    public record BertWeights(Map<String, HostTensor> weights, BertConfig config) {}

    /**
     * The BERT weights in {@code onnx}, by Hugging Face {@code BertModel} name and in PyTorch layout. The stream is
     * read to its end and not closed.
     *
     * @throws PeftException if the stream is not an ONNX model or the graph is not a BERT encoder
     */
    public static Map<String, HostTensor> read(InputStream onnx) {
        return new Reader(parse(onnx).getGraph()).weights();
    }

    /**
     * The BERT weights in {@code onnx} with their configuration. The number of attention heads, which the weights
     * do not determine, is read from the head-splitting {@code Reshape} of the first attention layer (or, failing
     * that, from the {@code sqrt(head_size)} divisor of its scores); dropout probabilities, which the graph does not
     * hold, are BERT's 0.1.
     *
     * @throws PeftException if the graph is not a BERT encoder or the number of heads cannot be found; in the latter
     *     case use {@link #read} and {@link #inferConfig(Map, int)}
     */
    public static BertWeights readBert(InputStream onnx) {
        Reader reader = new Reader(parse(onnx).getGraph());
        Map<String, HostTensor> weights = reader.weights();
        BertConfig shapes = inferConfig(weights, 1);
        int heads = reader.attentionHeads(shapes.hiddenSize());
        if (heads <= 0) {
            throw new PeftException("cannot find the number of attention heads in the ONNX graph (no head-splitting "
                    + "Reshape or score scaling under /encoder/layer.0/attention/self/); read the weights with "
                    + "OnnxWeights.read and pass the head count to OnnxWeights.inferConfig");
        }
        double eps = reader.layerNormEps();
        BertConfig config = new BertConfig(shapes.vocabSize(), shapes.hiddenSize(), shapes.numHiddenLayers(), heads,
                shapes.intermediateSize(), "gelu", shapes.maxPositionEmbeddings(), shapes.typeVocabSize(),
                eps > 0 ? eps : 1e-12, 0.1, 0.1);
        return new BertWeights(weights, config);
    }

    /**
     * The configuration implied by the shapes of BERT {@code weights} (as returned by {@link #read}). Attention heads
     * cannot be read from weights and must be given; LayerNorm epsilon is taken as 1e-12 and dropout as 0.1, BERT's
     * defaults.
     *
     * @throws PeftException if a weight the sizes are read from is missing
     */
    public static BertConfig inferConfig(Map<String, HostTensor> weights, int numAttentionHeads) {
        long[] word = need(weights, "embeddings.word_embeddings.weight").shape();
        long[] position = need(weights, "embeddings.position_embeddings.weight").shape();
        long[] tokenType = need(weights, "embeddings.token_type_embeddings.weight").shape();
        long[] intermediate = need(weights, "encoder.layer.0.intermediate.dense.weight").shape();
        int layers = countLayers(weights.keySet());
        return new BertConfig((int) word[0], (int) word[1], layers, numAttentionHeads, (int) intermediate[0], "gelu",
                (int) position[0], (int) tokenType[0], 1e-12, 0.1, 0.1);
    }

    private static HostTensor need(Map<String, HostTensor> weights, String name) {
        HostTensor t = weights.get(name);
        if (t == null || t.shape().length != 2) {
            throw new PeftException("weight '" + name + "' is " + (t == null ? "missing" : "not a matrix: " + t)
                    + "; cannot infer the BERT configuration");
        }
        return t;
    }

    private static int countLayers(Iterable<String> names) {
        int layers = 0;
        for (String name : names) {
            if (name.startsWith("encoder.layer.")) {
                int end = name.indexOf('.', "encoder.layer.".length());
                try {
                    layers = Math.max(layers, Integer.parseInt(name.substring("encoder.layer.".length(), end)) + 1);
                } catch (RuntimeException e) {
                    // not a layer index: ignored
                }
            }
        }
        return layers;
    }

    // ---------------------------------------------------------------------------------------------------------------

    private static OnnxMl.ModelProto parse(InputStream onnx) {
        byte[] bytes;
        try {
            bytes = onnx.readAllBytes();
        } catch (IOException e) {
            throw new PeftException("cannot read the ONNX model: " + e.getMessage(), e);
        } catch (OutOfMemoryError e) {
            throw new PeftException("the ONNX model does not fit in memory (files over 2 GB are not supported)", e);
        }
        try {
            // Aliasing lets raw_data ByteStrings point into `bytes` instead of copying every tensor.
            CodedInputStream in = CodedInputStream.newInstance(bytes);
            in.enableAliasing(true);
            in.setSizeLimit(Integer.MAX_VALUE);
            in.setRecursionLimit(1000);
            OnnxMl.ModelProto model = OnnxMl.ModelProto.parseFrom(in);
            if (!model.hasGraph() || model.getGraph().getNodeCount() == 0) {
                throw new PeftException("the stream is not an ONNX model (no graph in " + bytes.length + " bytes)");
            }
            return model;
        } catch (IOException e) {
            throw new PeftException("the stream is not an ONNX model: " + e.getMessage(), e);
        }
    }

    /** Expected BertModel parameter names, in state-dict order. */
    static List<String> expectedNames(int layers, boolean pooler) {
        List<String> names = new ArrayList<>();
        names.add("embeddings.word_embeddings.weight");
        names.add("embeddings.position_embeddings.weight");
        names.add("embeddings.token_type_embeddings.weight");
        names.add("embeddings.LayerNorm.weight");
        names.add("embeddings.LayerNorm.bias");
        for (int i = 0; i < layers; i++) {
            String p = "encoder.layer." + i + ".";
            for (String m : new String[] {"attention.self.query", "attention.self.key", "attention.self.value",
                "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense", "output.dense",
                "output.LayerNorm"}) {
                names.add(p + m + ".weight");
                names.add(p + m + ".bias");
            }
        }
        if (pooler) {
            names.add("pooler.dense.weight");
            names.add("pooler.dense.bias");
        }
        return names;
    }

    static long[] expectedShape(String name, long vocab, long hidden, long positions, long types,
            long intermediate) {
        boolean weight = name.endsWith(".weight");
        if (name.equals("embeddings.word_embeddings.weight")) {
            return new long[] {vocab, hidden};
        } else if (name.equals("embeddings.position_embeddings.weight")) {
            return new long[] {positions, hidden};
        } else if (name.equals("embeddings.token_type_embeddings.weight")) {
            return new long[] {types, hidden};
        } else if (name.contains("LayerNorm")) {
            return new long[] {hidden};
        } else if (name.contains(".intermediate.dense.")) {
            return weight ? new long[] {intermediate, hidden} : new long[] {intermediate};
        } else if (name.contains(".output.dense.") && !name.contains("attention")) {
            return weight ? new long[] {hidden, intermediate} : new long[] {hidden};
        }
        return weight ? new long[] {hidden, hidden} : new long[] {hidden};
    }

    /** Name resolution over one graph. */
    private static final class Reader {
        private final OnnxMl.GraphProto graph;
        /** Initializers and Constant outputs by value name. */
        private final Map<String, OnnxMl.TensorProto> constants = new HashMap<>();
        /** Node producing each value. */
        private final Map<String, OnnxMl.NodeProto> producers = new HashMap<>();
        /** Found tensors by state-dict name, with the value name they came from (for error messages). */
        private final Map<String, HostTensor> found = new HashMap<>();
        private final Map<String, String> sources = new HashMap<>();
        /** State-dict names whose ONNX tensor holds the transpose (MatMul weights are (in, out)). */
        private final java.util.Set<String> transposed = new java.util.HashSet<>();

        Reader(OnnxMl.GraphProto graph) {
            this.graph = graph;
            for (OnnxMl.TensorProto t : graph.getInitializerList()) {
                constants.put(t.getName(), t);
            }
            for (OnnxMl.NodeProto n : graph.getNodeList()) {
                for (String out : n.getOutputList()) {
                    producers.put(out, n);
                }
                if (n.getOpType().equals("Constant") && n.getOutputCount() == 1) {
                    for (OnnxMl.AttributeProto a : n.getAttributeList()) {
                        if (a.getName().equals("value") && a.hasT()) {
                            constants.put(n.getOutput(0), a.getT());
                        }
                    }
                }
            }
        }

        Map<String, HostTensor> weights() {
            // 1. Tensors that carry their state-dict name.
            for (Map.Entry<String, OnnxMl.TensorProto> e : constants.entrySet()) {
                String name = stateDictName(e.getKey());
                if (name != null && isFloat(e.getValue())) {
                    put(name, e.getKey(), false);
                }
            }
            // 2. Anonymous tensors, named after the module of the node that consumes them.
            for (OnnxMl.NodeProto n : graph.getNodeList()) {
                String module = moduleOf(n.getName());
                if (module == null) {
                    continue;
                }
                switch (n.getOpType()) {
                    case "MatMul" -> {
                        if (n.getInputCount() == 2 && isFloatConst(n.getInput(1), 2)) {
                            put(module + ".weight", n.getInput(1), true);
                        }
                    }
                    case "Gemm" -> {
                        if (n.getInputCount() >= 2 && isFloatConst(n.getInput(1), 2)) {
                            put(module + ".weight", n.getInput(1), intAttribute(n, "transB", 0) == 0);
                        }
                        if (n.getInputCount() >= 3 && isFloatConst(n.getInput(2), 1)) {
                            put(module + ".bias", n.getInput(2), false);
                        }
                    }
                    case "Add" -> {
                        for (int i = 0; i < n.getInputCount() && n.getInputCount() == 2; i++) {
                            String other = n.getInput(1 - i);
                            OnnxMl.NodeProto p = producers.get(other);
                            boolean afterMatMul = p != null && p.getOpType().equals("MatMul")
                                    && module.equals(moduleOf(p.getName()));
                            if (isFloatConst(n.getInput(i), 1) && (module.endsWith("LayerNorm") || afterMatMul)) {
                                put(module + ".bias", n.getInput(i), false);
                            }
                        }
                    }
                    case "Mul" -> {
                        for (int i = 0; i < n.getInputCount() && n.getInputCount() == 2; i++) {
                            if (module.endsWith("LayerNorm") && isFloatConst(n.getInput(i), 1)) {
                                put(module + ".weight", n.getInput(i), false);
                            }
                        }
                    }
                    case "LayerNormalization" -> {
                        if (n.getInputCount() >= 2 && isFloatConst(n.getInput(1), 1)) {
                            put(module + ".weight", n.getInput(1), false);
                        }
                        if (n.getInputCount() >= 3 && isFloatConst(n.getInput(2), 1)) {
                            put(module + ".bias", n.getInput(2), false);
                        }
                    }
                    case "Gather" -> {
                        if (n.getInputCount() == 2 && isFloatConst(n.getInput(0), 2)) {
                            put(module + ".weight", n.getInput(0), false);
                        }
                    }
                    default -> {
                        // other ops hold no parameters of interest
                    }
                }
            }
            return validate();
        }

        private Map<String, HostTensor> validate() {
            int layers = countLayers(found.keySet());
            boolean pooler = found.containsKey("pooler.dense.weight") || found.containsKey("pooler.dense.bias");
            List<String> expected = expectedNames(Math.max(layers, 1), pooler);
            List<String> missing = expected.stream().filter(n -> !found.containsKey(n)).toList();
            if (!missing.isEmpty()) {
                throw new PeftException("the ONNX graph is not a BERT encoder of the expected form: " + missing.size()
                        + " weights missing, " + missing.stream().limit(12).toList()
                        + (missing.size() > 12 ? " ..." : "") + "; found " + found.size() + " named tensors, "
                        + new TreeSet<>(found.keySet()).stream().limit(8).toList() + " (the graph has "
                        + graph.getInitializerCount() + " initializers and " + graph.getNodeCount()
                        + " nodes; quantized models, external data and exports without node names are not supported)");
            }
            long[] word = found.get("embeddings.word_embeddings.weight").shape();
            long[] position = found.get("embeddings.position_embeddings.weight").shape();
            long[] tokenType = found.get("embeddings.token_type_embeddings.weight").shape();
            long[] inter = found.get("encoder.layer.0.intermediate.dense.weight").shape();
            if (word.length != 2 || position.length != 2 || tokenType.length != 2 || inter.length != 2) {
                throw new PeftException("embedding tables and dense weights must be matrices; got word "
                        + Arrays.toString(word) + ", position " + Arrays.toString(position) + ", token type "
                        + Arrays.toString(tokenType) + ", intermediate " + Arrays.toString(inter));
            }
            Map<String, HostTensor> out = new LinkedHashMap<>();
            for (String name : expected) {
                HostTensor t = found.get(name);
                long[] shape = expectedShape(name, word[0], word[1], position[0], tokenType[0], inter[0]);
                if (!Arrays.equals(t.shape(), shape)) {
                    throw new PeftException("weight '" + name + "' (ONNX tensor '" + sources.get(name) + "') has shape "
                            + Arrays.toString(t.shape()) + ", a BERT with hidden size " + word[1]
                            + " and intermediate size " + inter[0] + " needs " + Arrays.toString(shape));
                }
                out.put(name, t);
            }
            return out;
        }

        /** The first attention layer's head count, or 0 if the graph does not show it. */
        int attentionHeads(int hidden) {
            String module = null;
            for (OnnxMl.NodeProto n : graph.getNodeList()) {
                String m = moduleOf(n.getName());
                if (m != null && m.equals("encoder.layer.0.attention.self")) {
                    module = m;
                    if (n.getOpType().equals("Reshape") && n.getInputCount() == 2) {
                        long[] shape = shapeSpec(n.getInput(1));
                        if (shape != null && shape.length == 4 && shape[2] > 0 && shape[3] > 0
                                && shape[2] * shape[3] == hidden) {
                            return (int) shape[2];
                        }
                    }
                }
            }
            if (module == null) {
                return 0;
            }
            // Fallback: scores divided by sqrt(head_size).
            for (OnnxMl.NodeProto n : graph.getNodeList()) {
                if (n.getOpType().equals("Div") && "encoder.layer.0.attention.self".equals(moduleOf(n.getName()))
                        && n.getInputCount() == 2 && constants.containsKey(n.getInput(1))) {
                    float[] v = floats(constants.get(n.getInput(1)));
                    if (v.length == 1) {
                        long headSize = Math.round((double) v[0] * v[0]);
                        if (headSize > 0 && Math.abs(Math.sqrt(headSize) - v[0]) < 1e-4 && hidden % headSize == 0) {
                            return (int) (hidden / headSize);
                        }
                    }
                }
            }
            return 0;
        }

        /** The embedding LayerNorm's epsilon, or 0 if the graph does not show it. */
        double layerNormEps() {
            for (OnnxMl.NodeProto n : graph.getNodeList()) {
                if (!"embeddings.LayerNorm".equals(moduleOf(n.getName()))) {
                    continue;
                }
                if (n.getOpType().equals("LayerNormalization")) {
                    for (OnnxMl.AttributeProto a : n.getAttributeList()) {
                        if (a.getName().equals("epsilon")) {
                            return Double.parseDouble(Float.toString(a.getF()));
                        }
                    }
                    return 1e-5; // the operator's default
                }
                if (n.getOpType().equals("Add") && n.getInputCount() == 2) {
                    for (String in : n.getInputList()) {
                        OnnxMl.TensorProto t = constants.get(in);
                        if (t != null && isFloat(t) && t.getDimsCount() == 0) {
                            float eps = floats(t)[0];
                            if (eps > 0 && eps < 1e-2) {
                                return Double.parseDouble(Float.toString(eps));
                            }
                        }
                    }
                }
            }
            return 0;
        }

        /** The int64 values of a Reshape shape input: a constant, or a Concat of constants and computed values (-1). */
        private long[] shapeSpec(String value) {
            OnnxMl.TensorProto t = constants.get(value);
            if (t != null) {
                return longs(t);
            }
            OnnxMl.NodeProto p = producers.get(value);
            if (p == null || !p.getOpType().equals("Concat")) {
                return null;
            }
            List<Long> out = new ArrayList<>();
            for (String in : p.getInputList()) {
                OnnxMl.TensorProto c = constants.get(in);
                if (c == null) {
                    out.add(-1L);
                } else {
                    long[] v = longs(c);
                    if (v == null) {
                        return null;
                    }
                    for (long x : v) {
                        out.add(x);
                    }
                }
            }
            return out.stream().mapToLong(Long::longValue).toArray();
        }

        private void put(String name, String value, boolean transpose) {
            if (found.containsKey(name)) {
                return;
            }
            HostTensor t = tensor(constants.get(value), value);
            found.put(name, transpose ? transpose(t) : t);
            sources.put(name, value);
            if (transpose) {
                transposed.add(name);
            }
        }

        private boolean isFloatConst(String value, int rank) {
            OnnxMl.TensorProto t = constants.get(value);
            return t != null && isFloat(t) && t.getDimsCount() == rank;
        }

        private static int intAttribute(OnnxMl.NodeProto n, String name, int otherwise) {
            for (OnnxMl.AttributeProto a : n.getAttributeList()) {
                if (a.getName().equals(name)) {
                    return (int) a.getI();
                }
            }
            return otherwise;
        }
    }

    /** {@code embeddings.x.weight} for state-dict-like value names (after dropping a model prefix), else null. */
    static String stateDictName(String valueName) {
        String name = valueName;
        for (String prefix : PREFIXES) {
            if (name.startsWith(prefix)) {
                name = name.substring(prefix.length());
            }
        }
        boolean bertModule = name.startsWith("embeddings.") || name.startsWith("encoder.layer.")
                || name.startsWith("pooler.");
        return bertModule && (name.endsWith(".weight") || name.endsWith(".bias")) ? name : null;
    }

    /**
     * The module path of a node, from its name: {@code /encoder/layer.0/attention/self/query/MatMul} gives
     * {@code encoder.layer.0.attention.self.query}; null for names that are not module paths.
     */
    static String moduleOf(String nodeName) {
        if (nodeName == null || !nodeName.startsWith("/")) {
            return null;
        }
        int last = nodeName.lastIndexOf('/');
        if (last <= 0) {
            return null;
        }
        String module = nodeName.substring(1, last).replace('/', '.');
        for (String prefix : PREFIXES) {
            if (module.startsWith(prefix)) {
                module = module.substring(prefix.length());
            }
        }
        return module;
    }

    private static boolean isFloat(OnnxMl.TensorProto t) {
        int type = t.getDataType();
        return type == OnnxMl.TensorProto.DataType.FLOAT_VALUE || type == OnnxMl.TensorProto.DataType.FLOAT16_VALUE
                || type == OnnxMl.TensorProto.DataType.BFLOAT16_VALUE
                || type == OnnxMl.TensorProto.DataType.DOUBLE_VALUE;
    }

    /** A float tensor's values as a HostTensor of the same shape. */
    static HostTensor tensor(OnnxMl.TensorProto t, String name) {
        if (t.getDataLocation() == OnnxMl.TensorProto.DataLocation.EXTERNAL) {
            throw new PeftException("ONNX tensor '" + name + "' is stored as external data, which is not supported; "
                    + "re-export the model with the weights inside the .onnx file");
        }
        long[] shape = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
        float[] data = floats(t);
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        if (n != data.length) {
            throw new PeftException("ONNX tensor '" + name + "' has shape " + Arrays.toString(shape) + " but holds "
                    + data.length + " values");
        }
        return new HostTensor(shape, data);
    }

    private static float[] floats(OnnxMl.TensorProto t) {
        ByteString raw = t.getRawData();
        int type = t.getDataType();
        if (type == OnnxMl.TensorProto.DataType.FLOAT_VALUE) {
            if (!raw.isEmpty()) {
                float[] out = new float[raw.size() / Float.BYTES];
                raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
                return out;
            }
            float[] out = new float[t.getFloatDataCount()];
            for (int i = 0; i < out.length; i++) {
                out[i] = t.getFloatData(i);
            }
            return out;
        } else if (type == OnnxMl.TensorProto.DataType.DOUBLE_VALUE) {
            if (!raw.isEmpty()) {
                ByteBuffer b = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                float[] out = new float[raw.size() / Double.BYTES];
                for (int i = 0; i < out.length; i++) {
                    out[i] = (float) b.getDouble();
                }
                return out;
            }
            float[] out = new float[t.getDoubleDataCount()];
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) t.getDoubleData(i);
            }
            return out;
        } else if (type == OnnxMl.TensorProto.DataType.FLOAT16_VALUE
                || type == OnnxMl.TensorProto.DataType.BFLOAT16_VALUE) {
            boolean bf16 = type == OnnxMl.TensorProto.DataType.BFLOAT16_VALUE;
            int count = raw.isEmpty() ? t.getInt32DataCount() : raw.size() / 2;
            ByteBuffer b = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            float[] out = new float[count];
            for (int i = 0; i < count; i++) {
                int bits = raw.isEmpty() ? t.getInt32Data(i) & 0xffff : b.getShort() & 0xffff;
                out[i] = bf16 ? Float.intBitsToFloat(bits << 16) : halfToFloat(bits);
            }
            return out;
        }
        throw new PeftException("ONNX tensor '" + t.getName() + "' has element type "
                + OnnxMl.TensorProto.DataType.forNumber(type) + "; only float, double, float16 and bfloat16 are read");
    }

    private static long[] longs(OnnxMl.TensorProto t) {
        int type = t.getDataType();
        ByteString raw = t.getRawData();
        if (type == OnnxMl.TensorProto.DataType.INT64_VALUE) {
            if (!raw.isEmpty()) {
                long[] out = new long[raw.size() / Long.BYTES];
                raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(out);
                return out;
            }
            return t.getInt64DataList().stream().mapToLong(Long::longValue).toArray();
        } else if (type == OnnxMl.TensorProto.DataType.INT32_VALUE) {
            if (!raw.isEmpty()) {
                int[] v = new int[raw.size() / Integer.BYTES];
                raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(v);
                return Arrays.stream(v).asLongStream().toArray();
            }
            return t.getInt32DataList().stream().mapToLong(Integer::longValue).toArray();
        }
        return null;
    }

    private static float halfToFloat(int h) {
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            float v = mant * 0x1p-24f;
            return sign == 0 ? v : -v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /** A matrix transposed: (rows, cols) to (cols, rows). */
    static HostTensor transpose(HostTensor t) {
        long[] shape = t.shape();
        int rows = (int) shape[0];
        int cols = (int) shape[1];
        float[] in = t.data();
        float[] out = new float[in.length];
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            for (int c = 0; c < cols; c++) {
                out[c * rows + r] = in[base + c];
            }
        }
        return new HostTensor(new long[] {cols, rows}, out);
    }
}
