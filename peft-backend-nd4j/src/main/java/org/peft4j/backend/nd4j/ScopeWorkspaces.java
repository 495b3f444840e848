package org.peft4j.backend.nd4j;

import java.util.function.Supplier;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.memory.enums.ResetPolicy;
import org.nd4j.linalg.api.memory.enums.SpillPolicy;
import org.nd4j.linalg.factory.Nd4j;

/**
 * ND4J workspaces behind eager {@link Nd4jScope}s: while a scope is open, the arrays its thread
 * makes are carved out of one block of native memory that the next scope at the same depth reuses,
 * instead of fresh buffers that libnd4j zeroes and the kernel page-faults in (a quarter of an eager
 * MiniLM forward pass). A scope's tensors die with it anyway, so this changes no lifetime:
 * {@link Nd4jBackend#keep} copies a tensor out, and {@link Nd4jBackend#gradients} (whose arrays
 * SameDiff may keep between calls) runs outside any workspace.
 *
 * <p>The block of each depth grows to the most one scope there has allocated (the first scope
 * learns it, larger ones grow it), up to {@link #MAX_FRACTION} of the off-heap limit; beyond that
 * a scope's excess is allocated and freed as it would be without a workspace.
 */
final class ScopeWorkspaces {
    /** The most one depth's block holds, as a fraction of JavaCPP's off-heap limit. */
    static final double MAX_FRACTION = 0.25;

    private static final WorkspaceConfiguration CONFIG = WorkspaceConfiguration.builder()
            .initialSize(0)
            .policyLearning(LearningPolicy.FIRST_LOOP)
            .policyAllocation(AllocationPolicy.OVERALLOCATE)
            .overallocationLimit(0.1)
            .policyReset(ResetPolicy.BLOCK_LEFT)
            .policySpill(SpillPolicy.REALLOCATE)
            .maxSize((long) (Pointer.maxBytes() * MAX_FRACTION))
            .build();

    private ScopeWorkspaces() {
    }

    /**
     * Opens this thread's workspace for scopes at {@code depth}. One id per depth, shared by every
     * backend: scopes of two backends interleaved on one thread then reenter the same workspace,
     * which ends its cycle only when the last of them closes.
     */
    static MemoryWorkspace open(int depth) {
        return Nd4j.getWorkspaceManager().getAndActivateWorkspace(CONFIG, "peft4j-scope-" + depth);
    }

    /** Runs with no workspace active on this thread (arrays made meanwhile are plain buffers). */
    static MemoryWorkspace outside() {
        return Nd4j.getWorkspaceManager().scopeOutOfWorkspaces();
    }

    /** Whether {@code shape} holds no element: ND4J cannot place such an array in a workspace. */
    static boolean empty(long[] shape) {
        for (long d : shape) {
            if (d == 0) {
                return true;
            }
        }
        return false;
    }

    /** {@code make}'s array, made outside any workspace when {@code shape} holds no element. */
    static INDArray make(long[] shape, Supplier<INDArray> make) {
        if (!empty(shape)) {
            return make.get();
        }
        try (MemoryWorkspace plain = outside()) {
            return make.get();
        }
    }

    /** A zero-filled array of {@code shape} ({@code Nd4j.create}), which may hold no element. */
    static INDArray zeros(DataType type, long[] shape) {
        return make(shape, () -> Nd4j.create(type, shape));
    }
}
