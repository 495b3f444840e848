package org.peft4j.core.tuner;

import org.peft4j.api.PeftException;
import org.peft4j.api.nn.Module;

/**
 * A module a {@link LayerTuner} puts in place of one module of the base model (HF's
 * {@code BaseTunerLayer}): it wraps that module and holds one method's adapters by name. The
 * tuner keeps the {@link #adapters() bookkeeping}; the layer computes with it and owns the
 * adapters' modules and parameters.
 */
public interface AdapterLayer {

    /** Which adapters this layer holds, which are active and which merged; never null. */
    AdapterSet<?> adapters();

    /** Drops adapter {@code name}'s modules and parameters (the tuner updates the bookkeeping). */
    void removeAdapter(String name);

    /** The module to put back where this layer sits once its last adapter is gone. */
    Module restore();

    /**
     * Fails, changing nothing, when adapter {@code name} cannot be merged here; the tuner checks
     * every layer before it merges any.
     */
    default void checkMergeable(String name) {
    }

    /** Folds adapter {@code name} into the wrapped module's weights; called only when unmerged. */
    default void merge(String name) {
        throw new PeftException(getClass().getSimpleName() + " cannot merge adapters into the base weights");
    }

    /** Undoes {@link #merge}; called only when merged. */
    default void unmerge(String name) {
        throw new PeftException(getClass().getSimpleName() + " cannot merge adapters into the base weights");
    }
}
