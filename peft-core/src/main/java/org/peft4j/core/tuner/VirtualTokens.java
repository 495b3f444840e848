package org.peft4j.core.tuner;

import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Module;

/**
 * The learned virtual tokens of one prompt-learning adapter (prompt tuning, P-tuning, prefix
 * tuning): trainable modules that {@link #compute()} a table of (virtual tokens, width). HF saves
 * that table, not the modules behind it, as {@value PromptLearningTuner#SAVED}; once such a table
 * is {@linkplain #load loaded} it is used as it is.
 */
public abstract class VirtualTokens extends Module {
    private Parameter loaded;

    protected VirtualTokens(Backend backend) {
        super(backend);
    }

    /** The table computed from the trained parameters, (virtual tokens, width). */
    protected abstract Tensor compute();

    /** The table in use: the loaded one, else {@link #compute()}; what an adapter file holds. */
    public final Tensor table() {
        return loaded != null ? loaded.value() : compute();
    }

    /** Uses {@code values} as the table from now on (an adapter file's {@code prompt_embeddings}); a method whose table is its parameter sets the parameter instead. */
    public void load(Tensor values) {
        if (loaded == null) {
            loaded = new Parameter(values);
            loaded.setTrainable(false);
        } else {
            loaded.set(values);
        }
    }
}
