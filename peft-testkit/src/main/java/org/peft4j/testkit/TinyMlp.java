package org.peft4j.testkit;

import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Init;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;

/**
 * A small classifier for tests: {@code fc1 -> gelu -> fc2 -> gelu -> classifier}, every layer a
 * {@link LinearLayer} looked up by name on each pass so that PEFT methods can wrap it.
 */
public final class TinyMlp extends Module {

    public TinyMlp(Backend backend, int in, int hidden, int classes, long seed) {
        super(backend);
        Init init = new Init(seed);
        register("fc1", org.peft4j.api.nn.Linear.init(backend, in, hidden, true, init));
        register("fc2", org.peft4j.api.nn.Linear.init(backend, hidden, hidden, true, init));
        register("classifier", org.peft4j.api.nn.Linear.init(backend, hidden, classes, true, init));
    }

    /** Logits (batch, classes) for inputs (batch, in). */
    public Tensor forward(Tensor x) {
        Tensor h = child("fc1", LinearLayer.class).forward(x).gelu();
        h = child("fc2", LinearLayer.class).forward(h).gelu();
        return child("classifier", LinearLayer.class).forward(h);
    }
}
