package org.peft4j.api.tuner;

import java.util.Map;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.nn.Module;

/**
 * One PEFT method (LoRA, a bottleneck adapter, prefix tuning, ...), written once against the
 * backend-neutral API. A tuner is stateless: what it injects lives in the model's module tree.
 *
 * <p>Method jars register their tuner in
 * {@code META-INF/services/org.peft4j.api.tuner.Tuner}; it needs a public no-argument
 * constructor. The registry maps {@link #peftType()} to the tuner and its {@link #configClass()},
 * as HF PEFT's {@code PEFT_TYPE_TO_CONFIG_MAPPING} does.
 */
public interface Tuner {

    /** HF's {@code peft_type} this tuner implements, in capitals (for example {@code LORA}); never null. */
    String peftType();

    /** The immutable config record this tuner reads; never null. */
    Class<? extends PeftConfig> configClass();

    /**
     * Injects an adapter called {@code adapterName} into {@code model}: finds the targets with
     * the context's selector and puts the method's layers in place. New parameters are trainable.
     *
     * @throws PeftException when the config does not fit the model (no target, wrong type)
     */
    void inject(Module model, PeftConfig config, String adapterName, TunerContext context);

    /**
     * The adapter's tensors under their Hugging Face file names (module path plus parameter name,
     * without the adapter name and without the {@code base_model.model.} prefix), in model order.
     */
    Map<String, Parameter> adapterState(Module model, String adapterName);

    /** Whether {@link #merge} is possible for this method. */
    default boolean canMerge() {
        return false;
    }

    /** Folds the adapter into the base weights, so inference runs at base speed. */
    default void merge(Module model, String adapterName) {
        throw new PeftException(peftType() + " adapters cannot be merged into the base weights");
    }

    /** Undoes {@link #merge}, restoring the base weights. */
    default void unmerge(Module model, String adapterName) {
        throw new PeftException(peftType() + " adapters cannot be merged into the base weights");
    }
}
