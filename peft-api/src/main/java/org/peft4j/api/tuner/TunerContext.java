package org.peft4j.api.tuner;

import org.peft4j.api.backend.Backend;
import org.peft4j.api.nn.Init;

/**
 * What a {@link Tuner} gets besides the model and config.
 *
 * @param backend where new tensors are made
 * @param selector resolves target specs to module paths
 * @param init seeded initialisation, identical across backends
 */
public record TunerContext(Backend backend, TargetSelector selector, Init init) {
}
