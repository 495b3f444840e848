package org.peft4j.api.nn;

import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;

/**
 * A place in a model where a sub-layer's output can be changed before the residual add, the hook
 * for bottleneck adapters. Models register one per sub-layer (for example
 * {@code attention.output.adapters} and {@code output.adapters} in a BERT layer) and call it with
 * the sub-layer's input and output; a method replaces it to insert its layers in series
 * (Houlsby, Pfeiffer) or in parallel.
 */
public class InsertionPoint extends Module {

    public InsertionPoint(Backend backend) {
        super(backend);
    }

    /**
     * Returns the sub-layer output to use; this base class returns {@code sublayerOutput}.
     *
     * @param sublayerInput what the sub-layer received (for parallel adapters)
     * @param sublayerOutput what the sub-layer produced, before the residual add
     */
    public Tensor forward(Tensor sublayerInput, Tensor sublayerOutput) {
        return sublayerOutput;
    }
}
