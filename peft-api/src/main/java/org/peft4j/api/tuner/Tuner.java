package org.peft4j.api.tuner;

import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.nn.Module;

/**
 * One PEFT method (LoRA, a bottleneck adapter, prefix tuning, ...), written once against the
 * backend-neutral API. A tuner is stateless: what it injects lives in the model's module tree.
 *
 * <p>Method jars register their tuner in
 * {@code META-INF/services/org.peft4j.api.tuner.Tuner}; it needs a public no-argument
 * constructor. The registry maps {@link #peftType()} to the tuner and its {@link #configClass()},
 * as HF PEFT's {@code PEFT_TYPE_TO_CONFIG_MAPPING} does. Guice users may bind a tuner instead
 * (peft-guice's {@code PeftModule.tuners(binder)}). Methods that wrap layers extend peft-core's
 * {@code LayerTuner}, which does the bookkeeping below once.
 *
 * @param <C> the config record this tuner reads
 */
public interface Tuner<C extends PeftConfig> {

    /** HF's {@code peft_type} this tuner implements, in capitals (for example {@code LORA}); never null. */
    String peftType();

    /** The immutable config record this tuner reads; never null. */
    Class<C> configClass();

    /**
     * The plugin contract this tuner was built against: return {@link org.peft4j.api.PeftApi#VERSION}
     * (a compile-time constant, so it records the API the jar was compiled with).
     */
    String apiVersion();

    /**
     * Injects an adapter called {@code adapterName} into {@code model}: finds the targets with
     * the context's selector and puts the method's layers in place. New parameters are trainable.
     *
     * @throws PeftException when the config does not fit the model (no target, wrong type)
     */
    void inject(Module model, C config, String adapterName, TunerContext context);

    /**
     * The adapter's parameters under their Hugging Face file names (module path plus parameter
     * name, without the adapter name and without the {@code base_model.model.} prefix), in model
     * order.
     */
    Map<String, Parameter> adapterState(Module model, String adapterName);

    /**
     * The names and shapes {@link #savedState} would have for {@code config} on {@code model},
     * worked out without making anything (null: cannot tell). Files and the memory budget are
     * checked against it before injection, so absurd sizes cost nothing.
     */
    default Map<String, long[]> savedShapes(Module model, C config, TunerContext context) {
        return null;
    }

    /** The config keys that size this method's tensors, with their values (for example {@code r=8}), for messages. */
    default String sizeKeys(C config) {
        return "";
    }

    /**
     * Whether this is a prompt-learning method (HF's {@code is_prompt_learning}): its file names
     * are used as they are (for example {@code prompt_embeddings}) instead of being put below
     * {@code base_model.model.}, and {@code modules_to_save} go below {@code base_model.}.
     */
    default boolean isPromptLearning() {
        return false;
    }

    /**
     * The tensors written to the adapter file, by the same names as {@link #adapterState}. The
     * default writes the parameters' values; a method whose saved form differs from its trained
     * form (P-tuning saves the prompt encoder's output, prefix tuning the projected prefixes)
     * overrides this and {@link #loadState}.
     */
    default Map<String, Tensor> savedState(Module model, String adapterName) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        adapterState(model, adapterName).forEach((k, p) -> out.put(k, p.value()));
        return out;
    }

    /**
     * Sets an injected adapter's tensors from a file. The caller has checked that {@code tensors}
     * has exactly the names and shapes of {@link #savedState}.
     */
    default void loadState(Module model, String adapterName, Map<String, Tensor> tensors) {
        adapterState(model, adapterName).forEach((k, p) -> p.set(tensors.get(k)));
    }

    /**
     * Switches adapter {@code adapterName} on or off for later forward passes (HF's
     * {@code set_adapter} and {@code disable_adapter}); its weights are kept.
     *
     * @throws PeftException when the model has no such adapter
     */
    void setActive(Module model, String adapterName, boolean active);

    /**
     * Removes adapter {@code adapterName} from the model: its layers and parameters are gone
     * afterwards, and wrapped layers with no adapter left are put back as they were.
     *
     * @throws PeftException when the model has no such adapter
     */
    void delete(Module model, String adapterName);

    /**
     * Whether this method's layers honour {@link org.peft4j.core.tuner.RowAdapters}, so one batch can
     * mix adapters row by row. Such layers must work position by position (as LoRA, IA3 and
     * bottleneck adapters do): a packed batch routes each position of a shared sequence on its own.
     */
    default boolean supportsMixedBatches() {
        return false;
    }

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
