package org.peft4j.api.nn;

import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Tensor;

/** A lookup table: {@code weight} (rows, dim); integer ids pick rows. */
public class Embedding extends Module {

    public Embedding(Backend backend, Tensor weight) {
        super(backend);
        if (weight.rank() != 2) {
            throw new org.peft4j.api.PeftException("embedding weight must be (rows, dim), got "
                    + java.util.Arrays.toString(weight.shape()));
        }
        register("weight", new Parameter(weight));
    }

    public Parameter weight() {
        return parameters().get("weight");
    }

    /** Rows for {@code ids} (any shape, INT64): shape {@code ids.shape() + [dim]}. */
    public Tensor forward(Tensor ids) {
        return weight().value().gather(ids);
    }

    /** Number of rows. */
    public long rows() {
        return weight().value().size(0);
    }

    /** Width of each row. */
    public long dim() {
        return weight().value().size(1);
    }
}
