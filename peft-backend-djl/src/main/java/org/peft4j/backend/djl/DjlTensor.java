package org.peft4j.backend.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.norm.LayerNorm;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.DType;
import org.peft4j.api.backend.Tensor;

/** A {@link Tensor} over a DJL {@link NDArray}; fused PyTorch kernels where DJL exposes them. */
final class DjlTensor implements Tensor {
    private final DjlBackend backend;
    private final NDArray array;

    DjlTensor(DjlBackend backend, NDArray array) {
        this.backend = backend;
        this.array = array;
    }

    NDArray array() {
        return array;
    }

    private NDArray other(Tensor t) {
        return backend.unwrap(t);
    }

    private Tensor wrap(NDArray a) {
        return backend.wrap(a);
    }

    @Override
    public Backend backend() {
        return backend;
    }

    @Override
    public long[] shape() {
        return array.getShape().getShape().clone();
    }

    @Override
    public DType dtype() {
        DataType t = array.getDataType();
        if (t == DataType.FLOAT32) {
            return DType.FLOAT32;
        }
        if (t == DataType.INT64) {
            return DType.INT64;
        }
        throw new PeftException("unsupported DJL data type " + t);
    }

    @Override
    public float[] toFloatArray() {
        if (array.getDataType() == DataType.FLOAT32) {
            return array.toFloatArray();
        }
        try (NDArray f = array.toType(DataType.FLOAT32, true)) {
            return f.toFloatArray();
        }
    }

    @Override
    public long[] toLongArray() {
        if (array.getDataType() == DataType.INT64) {
            return array.toLongArray();
        }
        try (NDArray l = array.toType(DataType.INT64, true)) {
            return l.toLongArray();
        }
    }

    @Override
    public Tensor add(Tensor o) {
        return wrap(array.add(other(o)));
    }

    @Override
    public Tensor sub(Tensor o) {
        return wrap(array.sub(other(o)));
    }

    @Override
    public Tensor mul(Tensor o) {
        return wrap(array.mul(other(o)));
    }

    @Override
    public Tensor div(Tensor o) {
        return wrap(array.div(other(o)));
    }

    @Override
    public Tensor add(float s) {
        return wrap(array.add(backend.scalar(s)));
    }

    @Override
    public Tensor mul(float s) {
        return wrap(array.mul(backend.scalar(s)));
    }

    @Override
    public Tensor pow(float e) {
        return wrap(array.pow(backend.scalar(e)));
    }

    @Override
    public Tensor square() {
        return wrap(array.square());
    }

    @Override
    public Tensor sqrt() {
        return wrap(array.sqrt());
    }

    @Override
    public Tensor exp() {
        return wrap(array.exp());
    }

    @Override
    public Tensor log() {
        return wrap(array.log());
    }

    @Override
    public Tensor abs() {
        return wrap(array.abs());
    }

    @Override
    public Tensor tanh() {
        return wrap(array.tanh());
    }

    @Override
    public Tensor sigmoid() {
        return wrap(Activation.sigmoid(array));
    }

    @Override
    public Tensor relu() {
        return wrap(Activation.relu(array));
    }

    @Override
    public Tensor erf() {
        return wrap(array.erf());
    }

    @Override
    public Tensor gelu() {
        // torch.nn.functional.gelu, the exact erf form
        return wrap(Activation.gelu(array));
    }

    @Override
    public Tensor sum(boolean keepDims, int... axes) {
        return wrap(array.sum(allIfEmpty(axes), keepDims));
    }

    @Override
    public Tensor mean(boolean keepDims, int... axes) {
        // PyTorch's DJL binding averages over one axis only: divide the sum instead
        int[] all = allIfEmpty(axes);
        long count = 1;
        for (int a : all) {
            count *= array.getShape().get(a < 0 ? array.getShape().dimension() + a : a);
        }
        NDArray sum = backend.wrap(array.sum(all, keepDims)).array();
        return wrap(sum.div(backend.scalar(count)));
    }

    private int[] allIfEmpty(int[] axes) {
        if (axes.length > 0) {
            return axes;
        }
        int[] all = new int[array.getShape().dimension()];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        return all;
    }

    @Override
    public Tensor max(int axis, boolean keepDims) {
        return wrap(array.max(new int[] {axis}, keepDims));
    }

    @Override
    public Tensor reshape(long... newShape) {
        return wrap(array.reshape(new Shape(newShape)));
    }

    @Override
    public Tensor permute(int... axes) {
        return wrap(array.transpose(axes));
    }

    @Override
    public Tensor slice(int axis, long start, long end) {
        int a = axis < 0 ? array.getShape().dimension() + axis : axis;
        long size = array.getShape().get(a);
        if (start < 0 || end > size || start > end) {
            throw new PeftException("slice [" + start + ", " + end + ") is outside axis " + axis + " of size " + size);
        }
        return wrap(array.get(new NDIndex().addAllDim(a).addSliceDim(start, end)));
    }

    @Override
    public Tensor toType(DType type) {
        return wrap(array.toType(type == DType.FLOAT32 ? DataType.FLOAT32 : DataType.INT64, true));
    }

    @Override
    public Tensor matmul(Tensor o) {
        return wrap(array.matMul(other(o)));
    }

    @Override
    public Tensor linear(Tensor weight, Tensor bias) {
        NDArray w = other(weight);
        return wrap(bias == null
                ? ai.djl.nn.core.Linear.linear(array, w).singletonOrThrow()
                : ai.djl.nn.core.Linear.linear(array, w, other(bias)).singletonOrThrow());
    }

    @Override
    public Tensor softmax(int axis) {
        return wrap(array.softmax(axis));
    }

    @Override
    public Tensor logSoftmax(int axis) {
        return wrap(array.logSoftmax(axis));
    }

    @Override
    public Tensor layerNorm(Tensor gamma, Tensor beta, float eps) {
        Shape normalized = new Shape(array.getShape().get(array.getShape().dimension() - 1));
        return wrap(LayerNorm.layerNorm(array, normalized, other(gamma), other(beta), eps).singletonOrThrow());
    }

    @Override
    public Tensor gather(Tensor indices) {
        if (array.getShape().dimension() != 2) {
            throw new PeftException("gather needs a 2-D table, got shape " + array.getShape());
        }
        NDArray ids = other(indices);
        NDArray longIds = ids.getDataType() == DataType.INT64 ? ids : ids.toType(DataType.INT64, false);
        return wrap(Embedding.embedding(longIds, array, SparseFormat.DENSE).singletonOrThrow());
    }

    @Override
    public Tensor greaterThan(float threshold) {
        return wrap(array.gt(threshold).toType(DataType.FLOAT32, false));
    }

    @Override
    public Tensor detach() {
        return wrap(array.stopGradient());
    }

    @Override
    public String toString() {
        return "DjlTensor" + array.getShape() + " " + array.getDataType();
    }
}
