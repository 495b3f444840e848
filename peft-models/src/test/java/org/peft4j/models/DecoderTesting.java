package org.peft4j.models;

import org.peft4j.api.backend.Scope;
import org.peft4j.models.decoder.CausalLM;

/** Shared steps of the decoder tests. */
public final class DecoderTesting {
    private DecoderTesting() {
    }

    /** The logits (seq * vocab) of one unpadded sequence, computed in a scope of their own. */
    public static float[] logits(CausalLM m, long[] ids) {
        try (Scope s = m.backend().scope()) {
            return m.forward(m.backend().fromLongs(ids, 1, ids.length), null, null).toFloatArray();
        }
    }
}
