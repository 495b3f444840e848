package org.peft4j.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.io.IOException;
import java.io.InputStream;
import java.nio.LongBuffer;
import java.util.Map;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.peft4j.models.io.MiniLm;

/**
 * The reference: ONNX Runtime on the same MiniLM graph and batch, all graph optimisations on,
 * two intra-op threads (the machine's cores, as PyTorch uses).
 */
public class OrtForwardBench extends BenchDefaults {
    private OrtEnvironment env;
    private OrtSession session;
    private Map<String, OnnxTensor> inputs;

    @Setup
    public void setUp() throws IOException, OrtException {
        byte[] model;
        try (InputStream in = MiniLm.onnx()) {
            model = in.readAllBytes();
        }
        env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(Runtime.getRuntime().availableProcessors());
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            session = env.createSession(model, options);
        }
        long[] shape = {MiniLmBatch.BATCH, MiniLmBatch.SEQ};
        long[] ones = new long[MiniLmBatch.BATCH * MiniLmBatch.SEQ];
        java.util.Arrays.fill(ones, 1);
        inputs = Map.of(
                "input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(MiniLmBatch.ids()), shape),
                "attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(ones), shape),
                "token_type_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(new long[ones.length]), shape));
    }

    @Benchmark
    public float forward() throws OrtException {
        try (OrtSession.Result r = session.run(inputs, java.util.Set.of("output_0"))) {
            return ((float[][][]) r.get(0).getValue())[0][0][0];
        }
    }

    @TearDown
    public void tearDown() throws OrtException {
        inputs.values().forEach(OnnxTensor::close);
        session.close();
    }
}
