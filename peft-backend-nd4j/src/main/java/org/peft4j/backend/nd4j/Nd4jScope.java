package org.peft4j.backend.nd4j;

import java.util.Deque;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.peft4j.api.backend.Scope;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Scope} of the ND4J backend: a {@link TensorOwner} on the opening thread's scope stack.
 * Closing it releases the native buffers of every tensor it still holds, and ends the cycle of its
 * {@link ScopeWorkspaces workspace} (if it has one) so the next scope reuses that memory.
 */
final class Nd4jScope extends TensorOwner implements Scope {
    private static final Logger LOG = LoggerFactory.getLogger(Nd4jScope.class);

    private final Nd4jBackend backend;
    private final Deque<Nd4jScope> stack;
    private final MemoryWorkspace workspace;
    private final Thread opener = Thread.currentThread();
    private volatile boolean closed;

    /** @param workspace where this scope's arrays are made, or null for plain buffers */
    Nd4jScope(Nd4jBackend backend, Deque<Nd4jScope> stack, int depth, MemoryWorkspace workspace) {
        super("scope(depth " + depth + ", thread " + Thread.currentThread().getName() + ")");
        this.backend = backend;
        this.stack = stack;
        this.workspace = workspace;
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
        if (workspace != null) {
            if (Thread.currentThread() == opener) {
                workspace.close();
            } else {
                // a workspace belongs to its thread: closing it here would unset this thread's
                LOG.warn("{} closed by thread {}; its workspace stays open until that thread ends", this,
                        Thread.currentThread().getName());
            }
        }
        backend.scopeClosed(this);
    }
}
