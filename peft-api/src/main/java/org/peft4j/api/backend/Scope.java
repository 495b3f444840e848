package org.peft4j.api.backend;

/**
 * A region of native memory: tensors made on the opening thread while it is open are released
 * when it closes. Use with try-with-resources.
 */
public interface Scope extends AutoCloseable {
    /** Releases the tensors made in this scope; idempotent. */
    @Override
    void close();
}
