package org.peft4j.core.io;

import java.util.Arrays;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;

/**
 * A float tensor in Java memory, row-major: what weight files are read into and written from,
 * independent of any backend.
 *
 * @param shape sizes of each axis
 * @param data elements, row-major; length is the product of {@code shape}
 */
public record HostTensor(long[] shape, float[] data) {

    public HostTensor {
        long n = Tensor.numel(shape);
        if (n != data.length) {
            throw new PeftException("shape " + Arrays.toString(shape) + " holds " + n + " elements, data has "
                    + data.length);
        }
        shape = shape.clone();
    }

    /** A copy of a backend tensor's values. */
    public static HostTensor of(Tensor t) {
        return new HostTensor(t.shape(), t.toFloatArray());
    }

    /** This tensor on {@code backend}. */
    public Tensor to(Backend backend) {
        return backend.fromFloats(data, shape);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof HostTensor h && Arrays.equals(shape, h.shape) && Arrays.equals(data, h.data);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(shape) + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "HostTensor" + Arrays.toString(shape);
    }
}
