package org.peft4j.backend.nd4j;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Holds tensors until they are released: the backend itself (for kept tensors and tensors made
 * outside any scope) or a {@link Nd4jScope}. Thread-safe.
 */
class TensorOwner {
    private final Set<Nd4jTensor> tensors = Collections.newSetFromMap(new IdentityHashMap<>());
    private final String label;

    TensorOwner(String label) {
        this.label = label;
    }

    /** Adds {@code t} and records this owner on it. */
    synchronized void add(Nd4jTensor t) {
        tensors.add(t);
        t.owner = this;
    }

    /** Removes {@code t} if present (it then belongs to nobody). */
    synchronized void remove(Nd4jTensor t) {
        if (tensors.remove(t) && t.owner == this) {
            t.owner = null;
        }
    }

    /** Number of tensors currently held. */
    synchronized int size() {
        return tensors.size();
    }

    /** Releases every tensor held. */
    void releaseAll() {
        List<Nd4jTensor> drained;
        synchronized (this) {
            drained = new ArrayList<>(tensors);
            tensors.clear();
        }
        for (Nd4jTensor t : drained) {
            if (t.owner == this) {
                t.owner = null;
            }
            t.free();
        }
    }

    @Override
    public String toString() {
        return label;
    }
}
