package org.peft4j.backend.nd4j;

import org.nd4j.autodiff.samediff.internal.SessionMemMgr;
import org.nd4j.autodiff.samediff.internal.memory.ArrayCacheMemoryMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.LongShapeDescriptor;

/**
 * One array cache for the inference sessions one thread runs of all {@link GraphCache kept graphs}:
 * a run hands its arrays back here (as it goes, and the rest when it ends) and the next run of the
 * same shapes takes them again instead of allocating (and page-faulting) gigabytes afresh. One byte
 * budget bounds what the cache holds; beyond it the least recently released arrays are freed.
 * Every call is synchronized ({@link #free} may come from another thread); {@link #close} is a
 * no-op for sessions (a session closing its memory manager must not free arrays another kept graph
 * may take) and {@link #free} frees it all.
 */
final class SharedArrayCache implements SessionMemMgr {
    private final ArrayCacheMemoryMgr cache;

    /** @param budgetFraction the most the cache holds, as a fraction of ND4J's off-heap limit (0 to 1, exclusive) */
    SharedArrayCache(double budgetFraction) {
        this.cache = new ArrayCacheMemoryMgr(budgetFraction, 1024, 2.0);
    }

    @Override
    public synchronized INDArray allocate(boolean detached, DataType dataType, long... shape) {
        return cache.allocate(detached, dataType, shape);
    }

    @Override
    public synchronized INDArray allocate(boolean detached, LongShapeDescriptor descriptor) {
        return cache.allocate(detached, descriptor);
    }

    @Override
    public synchronized INDArray ulike(INDArray arr) {
        return cache.ulike(arr);
    }

    @Override
    public synchronized INDArray dup(INDArray arr) {
        return cache.dup(arr);
    }

    @Override
    public synchronized void release(INDArray array) {
        cache.release(array);
    }

    /** Whether the array with this id is waiting in the cache (released and not taken again). */
    synchronized boolean holds(long arrayId) {
        return cache.getLruCache().contains(arrayId);
    }

    /** Sessions do not own the shared cache: see {@link #free}. */
    @Override
    public void close() {
    }

    /** Frees every array the cache holds. */
    synchronized void free() {
        cache.close();
    }
}
