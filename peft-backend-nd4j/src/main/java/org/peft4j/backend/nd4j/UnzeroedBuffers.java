package org.peft4j.backend.nd4j;

import java.lang.reflect.Field;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.indexer.FloatIndexer;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.cpu.nativecpu.buffer.DefaultDataBufferFactory;
import org.nd4j.linalg.cpu.nativecpu.buffer.FloatBuffer;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes ND4J's uninitialized float buffers really uninitialized. nd4j-native 1.0.0-M2.1 zeroes
 * every buffer it allocates, even for {@code Nd4j.createUninitialized} and the outputs operations
 * allocate before overwriting them; on a MiniLM forward that zeroing was a quarter of the time
 * (PyTorch leaves such memory as it is). Installed once per JVM as ND4J's buffer factory: a
 * float buffer asked for without initialization and outside any workspace gets memory of its own
 * ({@link FloatPointer}, not zeroed) that closing the buffer frees at once and that JavaCPP frees
 * if the buffer is dropped unclosed; every other request goes to ND4J's own factory unchanged.
 */
final class UnzeroedBuffers extends DefaultDataBufferFactory {
    private static final Logger LOG = LoggerFactory.getLogger(UnzeroedBuffers.class);
    /** Below this many floats zeroing costs less than JavaCPP's bookkeeping of a separate block. */
    static final long MIN_ELEMENTS = 4096;
    /** Guarded by the class lock ({@link #install} is synchronized). */
    private static boolean installed;

    /** Replaces ND4J's default buffer factory (once; leaves any other factory a user installed). */
    static synchronized void install() {
        if (installed) {
            return;
        }
        installed = true;
        try {
            Field f = Nd4j.class.getDeclaredField("DATA_BUFFER_FACTORY_INSTANCE");
            f.setAccessible(true);
            Object current = f.get(null);
            if (current != null && current.getClass() == DefaultDataBufferFactory.class) {
                f.set(null, new UnzeroedBuffers());
            } else {
                LOG.info("ND4J buffer factory {} left in place: uninitialized buffers stay zeroed",
                        current == null ? null : current.getClass().getName());
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.info("ND4J buffer factory not replaced ({}): uninitialized buffers stay zeroed", e.toString());
        }
    }

    @Override
    public DataBuffer create(DataType dataType, long length, boolean initialize) {
        return !initialize && dataType == DataType.FLOAT && length >= MIN_ELEMENTS
                ? OwnedFloatBuffer.allocate(length)
                : super.create(dataType, length, initialize);
    }

    @Override
    public DataBuffer create(DataType dataType, long length, boolean initialize, MemoryWorkspace workspace) {
        return workspace == null ? create(dataType, length, initialize) : super.create(dataType, length, initialize, workspace);
    }

    /** Is this buffer one of ours (for tests). */
    static boolean isUnzeroed(DataBuffer buffer) {
        return buffer instanceof OwnedFloatBuffer;
    }

    /** A float buffer over memory it owns: ND4J sees it as external memory and never frees it. */
    private static final class OwnedFloatBuffer extends FloatBuffer {
        private final FloatPointer memory;

        private OwnedFloatBuffer(FloatPointer memory, long length) {
            super(memory, FloatIndexer.create(memory), length);
            this.memory = memory;
        }

        /** JavaCPP throws {@link OutOfMemoryError} itself when the memory cannot be had. */
        static OwnedFloatBuffer allocate(long length) {
            return new OwnedFloatBuffer(new FloatPointer(length), length);
        }

        @Override
        protected void release() {
            super.release();
            memory.close();
        }
    }
}
