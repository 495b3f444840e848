package org.peft4j.models.io;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.peft4j.models.text.Tokenizer;

/**
 * Test support: ONNX Runtime running the bundled all-MiniLM-L6-v2 graph ({@link MiniLm#onnx()}), as the reference
 * for parity tests of the encoder.
 *
 * <p>Graph inputs are {@value #INPUT_IDS}, {@value #ATTENTION_MASK} and {@value #TOKEN_TYPE_IDS}, all int64 of
 * shape (batch, seq). Outputs are {@value #LAST_HIDDEN_STATE} (the last hidden state, float (batch, seq, 384)) and
 * {@value #POOLER_OUTPUT} (the BERT pooler, tanh(dense(h[:, 0])), float (batch, 384)). The session uses two intra-op
 * threads and only ONNX Runtime's basic graph optimizations (constant folding, no operator fusion), so the
 * arithmetic stays that of the exported PyTorch ops.
 *
 * <p>Creating one takes a second or so (the graph is 91 MB); share an instance across a test class and close it.
 */
public final class OrtReference implements AutoCloseable {

    public static final String INPUT_IDS = "input_ids";
    public static final String ATTENTION_MASK = "attention_mask";
    public static final String TOKEN_TYPE_IDS = "token_type_ids";
    public static final String LAST_HIDDEN_STATE = "output_0";
    public static final String POOLER_OUTPUT = "882";
    public static final int HIDDEN = 384;

    private final OrtEnvironment env;
    private final OrtSession session;

    private OrtReference(OrtEnvironment env, OrtSession session) {
        this.env = env;
        this.session = session;
    }

    /** A session over the bundled MiniLM graph. */
    public static OrtReference miniLm() {
        byte[] model;
        try (InputStream in = MiniLm.onnx()) {
            model = in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(2);
            options.setInterOpNumThreads(1);
            options.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.BASIC_OPT);
            return new OrtReference(env, env.createSession(model, options));
        } catch (OrtException e) {
            throw new IllegalStateException("cannot create an ONNX Runtime session for MiniLM", e);
        }
    }

    /** The graph's input and output names. */
    public Set<String> inputNames() {
        return session.getInputNames();
    }

    public Set<String> outputNames() {
        return session.getOutputNames();
    }

    /**
     * The last hidden state for a batch, row-major (batch, seq, 384).
     *
     * @param inputIds token ids, (batch, seq) row-major
     * @param attentionMask 1 for tokens, 0 for padding
     * @param tokenTypeIds segment ids
     */
    public float[] lastHiddenState(long[] inputIds, long[] attentionMask, long[] tokenTypeIds, int batch, int seqLen) {
        return run(LAST_HIDDEN_STATE, inputIds, attentionMask, tokenTypeIds, batch, seqLen);
    }

    /** The last hidden state for a tokenized batch, row-major (batch, seq, 384). */
    public float[] lastHiddenState(Tokenizer.Batch batch) {
        return lastHiddenState(batch.inputIds(), batch.attentionMask(), batch.tokenTypeIds(), batch.batchSize(),
                batch.seqLen());
    }

    /** The pooler output (tanh of the dense layer on the first token), row-major (batch, 384). */
    public float[] poolerOutput(long[] inputIds, long[] attentionMask, long[] tokenTypeIds, int batch, int seqLen) {
        return run(POOLER_OUTPUT, inputIds, attentionMask, tokenTypeIds, batch, seqLen);
    }

    private float[] run(String output, long[] inputIds, long[] attentionMask, long[] tokenTypeIds, int batch,
            int seqLen) {
        long n = (long) batch * seqLen;
        if (inputIds.length != n || attentionMask.length != n || tokenTypeIds.length != n) {
            throw new IllegalArgumentException("inputs of a " + batch + " x " + seqLen + " batch need " + n
                    + " elements each; got " + inputIds.length + ", " + attentionMask.length + ", "
                    + tokenTypeIds.length);
        }
        long[] shape = {batch, seqLen};
        Map<String, OnnxTensor> inputs = new LinkedHashMap<>();
        try {
            inputs.put(INPUT_IDS, OnnxTensor.createTensor(env, LongBuffer.wrap(inputIds), shape));
            inputs.put(ATTENTION_MASK, OnnxTensor.createTensor(env, LongBuffer.wrap(attentionMask), shape));
            inputs.put(TOKEN_TYPE_IDS, OnnxTensor.createTensor(env, LongBuffer.wrap(tokenTypeIds), shape));
            try (OrtSession.Result result = session.run(inputs, Set.of(output))) {
                OnnxValue value = result.get(output).orElseThrow();
                OnnxTensor tensor = (OnnxTensor) value;
                long[] outShape = tensor.getInfo().getShape();
                long expected = output.equals(LAST_HIDDEN_STATE) ? n * HIDDEN : (long) batch * HIDDEN;
                FloatBuffer buffer = tensor.getFloatBuffer();
                if (buffer.remaining() != expected) {
                    throw new IllegalStateException("ONNX Runtime returned " + output + " of shape "
                            + Arrays.toString(outShape) + ", expected " + expected + " elements");
                }
                float[] out = new float[buffer.remaining()];
                buffer.get(out);
                return out;
            }
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed on MiniLM", e);
        } finally {
            inputs.values().forEach(OnnxTensor::close);
        }
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        }
    }
}
