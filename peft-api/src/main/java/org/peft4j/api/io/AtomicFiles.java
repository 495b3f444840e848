package org.peft4j.api.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import org.peft4j.api.PeftException;

/** Writes that never leave a half-written file where a good one was: temp file, fsync, rename. */
public final class AtomicFiles {
    private AtomicFiles() {
    }

    /** Writes {@code bytes} to a temporary file beside {@code target}; returns it (caller renames or deletes). */
    static Path stage(Path target, byte[] bytes) {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer buf = ByteBuffer.wrap(bytes);
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
                ch.force(true);
            }
            return tmp;
        } catch (IOException e) {
            deleteQuietly(tmp);
            throw new PeftException("cannot write " + target + ": " + e.getMessage(), e);
        }
    }

    /** Renames a staged file over {@code target} atomically where the file system allows it. */
    static void commit(Path staged, Path target) {
        try {
            try {
                Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(staged, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            deleteQuietly(staged);
            throw new PeftException("cannot move " + staged + " to " + target + ": " + e.getMessage(), e);
        }
    }

    static void write(Path target, byte[] bytes) {
        commit(stage(target, bytes), target);
    }

    /**
     * Writes several files so that none is replaced unless all were written: every file is staged
     * first (a failure deletes the staged ones and leaves the old files untouched), then each is
     * renamed into place in the given order.
     */
    public static void writeAll(java.util.Map<Path, byte[]> files) {
        java.util.Map<Path, Path> staged = new java.util.LinkedHashMap<>();
        try {
            files.forEach((target, bytes) -> staged.put(target, stage(target, bytes)));
        } catch (RuntimeException e) {
            staged.values().forEach(AtomicFiles::deleteQuietly);
            throw e;
        }
        staged.forEach((target, tmp) -> commit(tmp, target));
    }

    static void deleteQuietly(Path p) {
        if (p != null) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // best effort: a stray temp file is harmless
            }
        }
    }
}
