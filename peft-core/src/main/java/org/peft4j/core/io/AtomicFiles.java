package org.peft4j.core.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
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
     * Writes several files so that either all are replaced or none is: every file is staged
     * first; then each existing target is moved aside and the staged file renamed into place, in
     * the given order. If any step fails, the new files are removed and the old ones moved back
     * before the exception propagates.
     */
    public static void writeAll(Map<Path, byte[]> files) {
        writeAll(files, target -> { });
    }

    /** {@link #writeAll(Map)} with a hook run before each file is put in place (tests inject faults here). */
    static void writeAll(Map<Path, byte[]> files, Consumer<Path> beforeCommit) {
        Map<Path, Path> staged = new LinkedHashMap<>();
        try {
            files.forEach((target, bytes) -> staged.put(target, stage(target, bytes)));
        } catch (RuntimeException e) {
            staged.values().forEach(AtomicFiles::deleteQuietly);
            throw e;
        }
        Map<Path, Path> backups = new LinkedHashMap<>();
        List<Path> committed = new ArrayList<>();
        try {
            for (Map.Entry<Path, Path> e : staged.entrySet()) {
                Path target = e.getKey();
                beforeCommit.accept(target);
                if (Files.exists(target)) {
                    Path backup = target.resolveSibling("." + target.getFileName() + ".bak-" + System.nanoTime());
                    move(target, backup);
                    backups.put(target, backup);
                }
                commit(e.getValue(), target);
                committed.add(target);
            }
        } catch (RuntimeException e) {
            committed.forEach(AtomicFiles::deleteQuietly);
            backups.forEach((target, backup) -> {
                try {
                    move(backup, target);
                } catch (RuntimeException restoreFailure) {
                    e.addSuppressed(restoreFailure);
                }
            });
            staged.values().forEach(AtomicFiles::deleteQuietly);
            throw e;
        }
        backups.values().forEach(AtomicFiles::deleteQuietly);
    }

    private static void move(Path from, Path to) {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new PeftException("cannot move " + from + " to " + to + ": " + e.getMessage(), e);
        }
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
