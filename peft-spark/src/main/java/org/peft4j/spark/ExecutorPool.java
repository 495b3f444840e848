package org.peft4j.spark;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Function;

/**
 * Things too costly to build per task (a model on a backend), kept for the life of the executor
 * JVM, by key: a task borrows an idle one, or has one built, and gives it back when done, so tasks
 * running at once ({@code local[N]}, several cores per executor) never share one.
 */
final class ExecutorPool<K, V> {
    private final Map<K, ConcurrentLinkedQueue<V>> idle = new ConcurrentHashMap<>();
    private final Function<K, V> build;

    ExecutorPool(Function<K, V> build) {
        this.build = build;
    }

    /** Runs {@code work} on an idle instance for {@code key}, built first if none is idle. */
    <T> T with(K key, Function<V, T> work) {
        ConcurrentLinkedQueue<V> free = idle.computeIfAbsent(key, k -> new ConcurrentLinkedQueue<>());
        V v = free.poll();
        if (v == null) {
            v = build.apply(key);
        }
        try {
            return work.apply(v);
        } finally {
            free.add(v);
        }
    }
}
