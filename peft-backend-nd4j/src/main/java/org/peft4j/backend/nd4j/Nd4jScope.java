package org.peft4j.backend.nd4j;

import java.util.Deque;
import org.peft4j.api.backend.Scope;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Scope} of the ND4J backend: a {@link TensorOwner} on the opening thread's scope stack.
 * Closing it releases the native buffers of every tensor it still holds.
 */
final class Nd4jScope extends TensorOwner implements Scope {
    private static final Logger LOG = LoggerFactory.getLogger(Nd4jScope.class);

    private final Nd4jBackend backend;
    private final Deque<Nd4jScope> stack;
    private volatile boolean closed;

    Nd4jScope(Nd4jBackend backend, Deque<Nd4jScope> stack, int depth) {
        super("scope(depth " + depth + ", thread " + Thread.currentThread().getName() + ")");
        this.backend = backend;
        this.stack = stack;
    }

    boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        // scopes opened inside this one (and still open) close first, innermost first
        while (true) {
            Nd4jScope top;
            synchronized (stack) {
                top = stack.peek();
                if (top == null || !stack.contains(this)) {
                    break;
                }
                if (top == this) {
                    stack.pop();
                    break;
                }
            }
            LOG.warn("closing {} before the scope nested in it; closing {} first", this, top);
            top.close();
        }
        closed = true;
        releaseAll();
        backend.scopeClosed(this);
    }
}
