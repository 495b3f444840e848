package org.peft4j.backend.nd4j;

import java.lang.reflect.Field;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.autodiff.functions.DifferentialFunction;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.imports.converters.ImportClassMapping;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.CustomOp;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.api.ops.executioner.OpExecutioner;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.AddOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.api.shape.LongShapeDescriptor;
import org.nd4j.linalg.cpu.nativecpu.ops.NativeOpExecutioner;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Operations of recorded graphs computed in Java, or with a cheaper gradient than SameDiff's: exact
 * GELU and layer norm, each with its gradient as one operation; softmax, whose gradient reads its
 * output; a sum whose gradient copies nothing and a product with a constant whose gradient is one
 * product. Recorded as compositions of libnd4j ops GELU and layer norm took ~170 ms (GELU:
 * libnd4j's erf calls libm's scalar {@code erff} per element, five passes forward and eight
 * backward over the 32 x 64 x 1536 activation) and ~100 ms (layer norm: mean, centring, variance,
 * square root, division, gain and bias, and their gradients) of a 1.1-1.2 s MiniLM LoRA step on a
 * 2-core Xeon; here they are {@link ErfKernel} and {@link FloatKernels} passes. Softmax's gradient
 * op recomputed the softmax (~7 ms a call there); {@code add_bp} and {@code multiply_bp} wrote
 * gradients nobody needed.
 *
 * <p>SameDiff 1.0.0-M2.1 has no public way to add an operation: building a gradient function
 * clones every op by serializing it and creating it again by name, and ops run in libnd4j. So when
 * the first graph that would use them is recorded (a backend only used for inference leaves ND4J
 * as it is), this class registers its op classes under their names in ND4J's op-name table and
 * replaces ND4J's executioner, once per JVM, by a subclass that runs instances of these classes in
 * Java and hands every other op to ND4J unchanged. When either step fails (another executioner is
 * installed, reflection is refused) or the system property {@value #PROPERTY} is {@code false},
 * the recorder uses the compositions of libnd4j ops instead.
 */
final class GraphKernels {
    /** System property: {@code false} records these operations as SameDiff's own ops. */
    static final String PROPERTY = "peft4j.nd4j.javaKernels";
    private static final Logger LOG = LoggerFactory.getLogger(GraphKernels.class);
    /** Guarded by the class lock. */
    private static Boolean installed;

    private GraphKernels() {
    }

    /** Whether recorded graphs use these kernels: installed, and not turned off by {@value #PROPERTY}. */
    static boolean enabled() {
        return !"false".equalsIgnoreCase(System.getProperty(PROPERTY, "true").trim()) && install();
    }

    /** Registers the ops and replaces ND4J's executioner (once; leaves any other executioner in place). */
    private static synchronized boolean install() {
        if (installed == null) {
            installed = register();
        }
        return installed;
    }

    private static boolean register() {
        try {
            Object current = Nd4j.getExecutioner();
            if (!(current instanceof Executioner)) {
                if (current == null || current.getClass() != NativeOpExecutioner.class) {
                    LOG.info("ND4J executioner {} left in place: recorded graphs use SameDiff's own ops",
                            current == null ? null : current.getClass().getName());
                    return false;
                }
                Map<String, DifferentialFunction> byName = ImportClassMapping.getOpNameMapping();
                for (KernelOp op : List.of(new Gelu(), new GeluGrad(), new LayerNorm(), new LayerNormGrad(), new Sum(),
                        new ProductWithConstant(), new Softmax(), new SoftmaxGrad())) {
                    byName.put(op.opName(), op);
                }
                Executioner replacement = new Executioner();
                OpExecutioner previous = (OpExecutioner) current;
                replacement.setProfilingMode(previous.getProfilingMode()); // what a user set before stays set
                replacement.enableDebugMode(previous.isDebug());
                replacement.enableVerboseMode(previous.isVerbose());
                Field f = Nd4j.class.getDeclaredField("OP_EXECUTIONER_INSTANCE");
                f.setAccessible(true);
                f.set(null, replacement);
            }
            return true;
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.info("ND4J executioner not replaced ({}): recorded graphs use SameDiff's own ops", e.toString());
            return false;
        }
    }

    /** Exact GELU of {@code x}, {@code x * 0.5 * (1 + erf(x / sqrt 2))}, as a graph operation. */
    static SDVariable gelu(SDVariable x) {
        if (enabled()) {
            return new Gelu(x.getSameDiff(), x).outputVariable();
        }
        return x.mul(0.5).mul(x.getSameDiff().math().erf(x.mul(1.0 / Math.sqrt(2.0))).add(1.0));
    }

    /**
     * Layer norm of {@code x} over its last axis with a [hidden] gain and bias as one graph
     * operation (the arithmetic of {@link FloatKernels#layerNorm}), or null when the kernels are
     * not enabled.
     */
    static SDVariable layerNorm(SDVariable x, SDVariable gain, SDVariable bias, float eps) {
        return enabled() ? new LayerNorm(x.getSameDiff(), x, gain, bias, eps).outputVariable() : null;
    }

    /**
     * {@code a + b} of one shape, or null when the kernels are not enabled. Its gradient is the
     * incoming gradient for both (SameDiff's {@code add_bp} copies it twice).
     */
    static SDVariable sum(SDVariable a, SDVariable b) {
        return floats(a, b) && enabled() ? new Sum(a.getSameDiff(), a, b).outputVariable() : null;
    }

    /**
     * {@code x * c} of one shape with {@code c} a fed constant (a dropout mask), or null when the
     * kernels are not enabled. Its gradient is one product, {@code dy * c} (SameDiff's
     * {@code multiply_bp} also computes the constant's, which nothing reads).
     */
    static SDVariable productWithConstant(SDVariable x, SDVariable c) {
        return floats(x, c) && enabled() ? new ProductWithConstant(x.getSameDiff(), x, c).outputVariable() : null;
    }

    /** The ops declare FLOAT outputs: operands of other types keep SameDiff's ops. */
    private static boolean floats(SDVariable a, SDVariable b) {
        return a.dataType() == DataType.FLOAT && b.dataType() == DataType.FLOAT;
    }

    /**
     * Softmax over the last axis (libnd4j's), whose gradient reads its output instead of computing
     * the softmax again; null when the kernels are not enabled.
     */
    static SDVariable softmax(SDVariable x) {
        return enabled() ? new Softmax(x.getSameDiff(), x).outputVariable() : null;
    }

    /** ND4J's executioner, running {@link KernelOp}s in Java. */
    static final class Executioner extends NativeOpExecutioner {
        @Override
        public INDArray[] exec(CustomOp op, OpContext context) {
            if (op instanceof KernelOp k && context != null) {
                k.compute(context);
                return context.getOutputArrays().toArray(new INDArray[0]);
            }
            return super.exec(op, context);
        }
    }

    /**
     * An op computed in Java. Public with a public no-argument constructor: ND4J creates ops again
     * by name (from the registered instance's class) when it clones a graph.
     */
    public abstract static class KernelOp extends DynamicCustomOp {
        KernelOp() {
        }

        KernelOp(SameDiff sd, SDVariable... inputs) {
            super(null, sd, inputs);
        }

        abstract void compute(OpContext context);

        @Override
        public long opHash() {
            return 0; // not a libnd4j op; what ND4J writes for ops it has no hash for
        }

        @Override
        public int getNumOutputs() {
            return 1;
        }

        @Override
        public Map<String, Object> propertiesForFunction() {
            return new HashMap<>(); // the epsilon, if any, travels as a t-argument
        }

        @Override
        public void setPropertiesForFunction(Map<String, Object> properties) {
        }

        @Override
        public List<DataType> calculateOutputDataTypes(List<DataType> inputTypes) {
            return java.util.Collections.nCopies(getNumOutputs(), DataType.FLOAT);
        }

        @Override
        public List<LongShapeDescriptor> calculateOutputShape(OpContext context) {
            return List.of(LongShapeDescriptor.fromShape(context.getInputArray(0).shape(), DataType.FLOAT));
        }
    }

    /** Exact GELU (one input). */
    public static final class Gelu extends KernelOp {
        public Gelu() {
        }

        Gelu(SameDiff sd, SDVariable x) {
            super(sd, x);
        }

        @Override
        public String opName() {
            return "peft4j_gelu";
        }

        @Override
        void compute(OpContext c) {
            ErfKernel.geluInto(c.getInputArray(0), c.getOutputArray(0));
        }

        @Override
        public List<SDVariable> doDiff(List<SDVariable> grads) {
            return List.of(new GeluGrad(sameDiff, arg(0), grads.get(0)).outputVariable());
        }
    }

    /** GELU's input gradient: the incoming gradient times GELU's derivative at the input (x, dy). */
    public static final class GeluGrad extends KernelOp {
        public GeluGrad() {
        }

        GeluGrad(SameDiff sd, SDVariable x, SDVariable dy) {
            super(sd, x, dy);
        }

        @Override
        public String opName() {
            return "peft4j_gelu_grad";
        }

        @Override
        void compute(OpContext c) {
            INDArray out = c.getOutputArray(0);
            ErfKernel.geluDerivativeInto(c.getInputArray(0), out);
            out.muli(c.getInputArray(1));
        }
    }

    /** Layer norm over the last axis (x, gain, bias; t-argument: epsilon). */
    public static final class LayerNorm extends KernelOp {
        public LayerNorm() {
        }

        LayerNorm(SameDiff sd, SDVariable x, SDVariable gain, SDVariable bias, float eps) {
            super(sd, x, gain, bias);
            addTArgument(eps);
        }

        @Override
        public String opName() {
            return "peft4j_layer_norm";
        }

        @Override
        void compute(OpContext c) {
            FloatKernels.layerNormInto(c.getInputArray(0), c.getInputArray(1).toFloatVector(),
                    c.getInputArray(2).toFloatVector(), (float) (double) c.getTArguments().get(0), c.getOutputArray(0));
        }

        @Override
        public List<SDVariable> doDiff(List<SDVariable> grads) {
            return List.of(new LayerNormGrad(sameDiff, arg(0), arg(1), grads.get(0), tArguments.get(0)).outputVariables());
        }
    }

    /** Layer norm's gradients (x, gain, dy; t-argument: epsilon) of x, gain and bias. */
    public static final class LayerNormGrad extends KernelOp {
        public LayerNormGrad() {
        }

        LayerNormGrad(SameDiff sd, SDVariable x, SDVariable gain, SDVariable dy, double eps) {
            super(sd, x, gain, dy);
            addTArgument(eps);
        }

        @Override
        public String opName() {
            return "peft4j_layer_norm_grad";
        }

        @Override
        public int getNumOutputs() {
            return 3;
        }

        @Override
        public List<LongShapeDescriptor> calculateOutputShape(OpContext c) {
            LongShapeDescriptor gain = LongShapeDescriptor.fromShape(c.getInputArray(1).shape(), DataType.FLOAT);
            return List.of(LongShapeDescriptor.fromShape(c.getInputArray(0).shape(), DataType.FLOAT), gain, gain);
        }

        @Override
        void compute(OpContext c) {
            FloatKernels.layerNormGradient(c.getInputArray(0), c.getInputArray(1).toFloatVector(), c.getInputArray(2),
                    (float) (double) c.getTArguments().get(0), c.getOutputArray(0), c.getOutputArray(1),
                    c.getOutputArray(2));
        }
    }

    /** {@code a + b}, same shapes. */
    public static final class Sum extends KernelOp {
        public Sum() {
        }

        Sum(SameDiff sd, SDVariable a, SDVariable b) {
            super(sd, a, b);
        }

        @Override
        public String opName() {
            return "peft4j_sum";
        }

        @Override
        void compute(OpContext c) {
            Nd4j.exec(new AddOp(new INDArray[] {c.getInputArray(0), c.getInputArray(1)},
                    new INDArray[] {c.getOutputArray(0)}));
        }

        @Override
        public List<SDVariable> doDiff(List<SDVariable> grads) {
            // identities, which SameDiff's runs pass through without copying: SameDiff renames each
            // input's gradient variable, so the two cannot be one variable
            return List.of(sameDiff.identity(grads.get(0)), sameDiff.identity(grads.get(0)));
        }
    }

    /** {@code x * c} with {@code c} a fed constant, same shapes. */
    public static final class ProductWithConstant extends KernelOp {
        public ProductWithConstant() {
        }

        ProductWithConstant(SameDiff sd, SDVariable x, SDVariable constant) {
            super(sd, x, constant);
        }

        @Override
        public String opName() {
            return "peft4j_product_with_constant";
        }

        @Override
        void compute(OpContext c) {
            Nd4j.exec(new MulOp(new INDArray[] {c.getInputArray(0), c.getInputArray(1)},
                    new INDArray[] {c.getOutputArray(0)}));
        }

        @Override
        public List<SDVariable> doDiff(List<SDVariable> grads) {
            // the constant's gradient is declared (SameDiff wants one per input) but no run asks for it
            return List.of(grads.get(0).mul(arg(1)), sameDiff.zerosLike(arg(1)));
        }
    }

    /** Softmax over the last axis. */
    public static final class Softmax extends KernelOp {
        public Softmax() {
        }

        Softmax(SameDiff sd, SDVariable x) {
            super(sd, x);
        }

        @Override
        public String opName() {
            return "peft4j_softmax";
        }

        @Override
        void compute(OpContext c) {
            INDArray x = c.getInputArray(0);
            Nd4j.exec((CustomOp) new SoftMax(x, c.getOutputArray(0), x.rank() - 1));
        }

        @Override
        public List<SDVariable> doDiff(List<SDVariable> grads) {
            return List.of(new SoftmaxGrad(sameDiff, outputVariable(), grads.get(0)).outputVariable());
        }
    }

    /** Softmax's input gradient from its output and the incoming gradient (y, dy). */
    public static final class SoftmaxGrad extends KernelOp {
        public SoftmaxGrad() {
        }

        SoftmaxGrad(SameDiff sd, SDVariable y, SDVariable dy) {
            super(sd, y, dy);
        }

        @Override
        public String opName() {
            return "peft4j_softmax_grad";
        }

        @Override
        void compute(OpContext c) {
            INDArray y = c.getInputArray(0);
            FloatKernels.softmaxGradient(y, c.getInputArray(1), c.getOutputArray(0), (int) y.size(y.rank() - 1));
        }
    }
}
