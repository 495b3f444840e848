package org.peft4j.api.nn;

import org.peft4j.api.backend.Tensor;

/**
 * A layer computing {@code y = x W^T + b}: the hook that weight-delta methods (LoRA, IA3) wrap.
 * Models call linear layers only through this interface, so a wrapper can stand in their place.
 */
public interface LinearLayer {

    /** Applies the layer to the last axis of {@code x}. */
    Tensor forward(Tensor x);

    /** Size of the input features. */
    long inFeatures();

    /** Size of the output features. */
    long outFeatures();

    /** The plain layer underneath any wrappers; a plain {@link Linear} returns itself. */
    Linear baseLayer();
}
