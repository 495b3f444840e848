package org.peft4j.api.nn;

import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;

/**
 * A place in a model where a sub-layer's output can be changed before the residual add, the hook
 * for bottleneck adapters. Models register one per sub-layer, named {@code adapter} (for example
 * {@code attention.output.adapter} and {@code output.adapter} in a BERT layer,
 * {@code attn.adapter} and {@code mlp.adapter} in a GPT-2 block), declare the widths of the
 * sub-layer's input and output, and call it with both; a method replaces it to insert its layers
 * in series (Houlsby, Pfeiffer) or in parallel.
 */
public class InsertionPoint extends Module {
    private final long inputSize;
    private final long outputSize;

    /**
     * @param inputSize last-axis width of the sub-layer input passed to {@link #forward}
     * @param outputSize last-axis width of the sub-layer output
     */
    public InsertionPoint(Backend backend, long inputSize, long outputSize) {
        super(backend);
        if (inputSize <= 0 || outputSize <= 0) {
            throw new PeftException("insertion point sizes must be positive, got input " + inputSize + " and output "
                    + outputSize);
        }
        this.inputSize = inputSize;
        this.outputSize = outputSize;
    }

    /** Width of the sub-layer input (what parallel adapters read). */
    public long inputSize() {
        return inputSize;
    }

    /** Width of the sub-layer output (what every adapter writes). */
    public long outputSize() {
        return outputSize;
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
