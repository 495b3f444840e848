package org.peft4j.api.backend;

import java.util.List;

/**
 * The outcome of {@link Backend#gradients}: the loss value and one gradient per requested
 * parameter, in the order the parameters were given.
 *
 * @param loss the loss value
 * @param grads gradients, same shapes as the parameters; never null
 */
public record Gradients(float loss, List<Tensor> grads) {
    public Gradients {
        grads = List.copyOf(grads);
    }
}
