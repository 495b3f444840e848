package org.peft4j.backend.nd4j;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.nd4j.autodiff.listeners.Operation;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.config.ExecutionResult;
import org.nd4j.autodiff.samediff.config.SDValue;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One forward-and-backward run of a recorded graph: what {@code SameDiff.calculateGradientsAndOutputs}
 * does, except that the gradient function's session may hand an array back to its cache as soon
 * as the last operation reading it has run. SameDiff 1.0.0-M2.1 turns that off for gradient runs
 * ({@code setEnableCache(false)}), so a run holds every array it computed until it ends: for a
 * MiniLM LoRA step that is most of the process's peak memory, and every array is a fresh
 * allocation. The run itself is SameDiff's own ({@code batchOutputHelper}, reached by reflection as
 * it is not public).
 */
final class GradientRun {
    private static final Method BATCH_OUTPUT = batchOutputHelper();

    private GradientRun() {
    }

    /** The values of {@code outputs} and the gradients of {@code params}, by variable name. */
    static Result run(SameDiff sd, Map<String, INDArray> feeds, Collection<String> outputs, Collection<String> params,
            boolean recycle) {
        if (sd.getFunction("grad") == null) {
            sd.createGradFunction();
        }
        List<String> names = new ArrayList<>(outputs);
        Map<String, String> gradientOf = new HashMap<>();
        for (String p : params) {
            SDVariable g = sd.getVariable(p).getGradient();
            if (g != null) { // null when the loss does not depend on p
                names.add(g.name());
                gradientOf.put(p, g.name());
            }
        }
        SameDiff gradFn = sd.getFunction("grad");
        gradFn.setEnableCache(recycle);
        ExecutionResult r;
        try {
            r = (ExecutionResult) BATCH_OUTPUT.invoke(gradFn, feeds, null, Operation.TRAINING,
                    (Object) names.toArray(new String[0]));
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e.getCause());
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("cannot run SameDiff's batchOutputHelper", e);
        }
        Map<String, INDArray> values = new HashMap<>();
        if (r.hasValues()) {
            for (Map.Entry<String, SDValue> e : r.getValueOutputs().entrySet()) {
                values.put(e.getKey(), e.getValue().getTensorValue());
            }
        } else if (r.hasSingle()) {
            for (Map.Entry<String, Optional<INDArray>> e : r.getOutputs().entrySet()) {
                values.put(e.getKey(), e.getValue().orElse(null));
            }
        }
        Map<String, INDArray> out = new HashMap<>();
        for (String o : outputs) {
            out.put(o, values.get(o));
        }
        Map<String, INDArray> grads = new HashMap<>();
        for (Map.Entry<String, String> e : gradientOf.entrySet()) {
            grads.put(e.getKey(), values.get(e.getValue()));
        }
        return new Result(out, grads);
    }

    /** Output values and parameter gradients of one run, both keyed by variable name. */
    record Result(Map<String, INDArray> outputs, Map<String, INDArray> gradients) {
    }

    private static Method batchOutputHelper() {
        try {
            Method m = SameDiff.class.getDeclaredMethod("batchOutputHelper", Map.class, List.class, Operation.class,
                    String[].class);
            m.setAccessible(true);
            return m;
        } catch (NoSuchMethodException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
