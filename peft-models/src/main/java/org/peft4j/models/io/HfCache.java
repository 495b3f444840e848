package org.peft4j.models.io;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.peft4j.api.PeftException;

/**
 * Models by their Hugging Face id ({@code org/name}) from the local cache, laid out as Hugging
 * Face's own libraries lay it out: {@code $HF_HOME/hub/models--org--name/snapshots/<commit>/},
 * the commit named by {@code refs/main} (default {@code HF_HOME}: {@code ~/.cache/huggingface};
 * {@code HF_HUB_CACHE} names the hub folder directly). Offline: nothing is downloaded.
 */
public final class HfCache {
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*");

    private HfCache() {
    }

    /** Whether {@code spec} reads as a Hugging Face model id ({@code org/name}) rather than a path. */
    public static boolean isModelId(String spec) {
        return ID.matcher(spec).matches() && !Files.exists(Path.of(spec));
    }

    /** The hub folder of this machine's cache, from the environment as Hugging Face reads it. */
    public static Path hubDir() {
        String hub = System.getenv("HF_HUB_CACHE");
        if (hub != null && !hub.isBlank()) {
            return Path.of(hub);
        }
        String home = System.getenv("HF_HOME");
        return (home != null && !home.isBlank() ? Path.of(home) : Path.of(System.getProperty("user.home"), ".cache",
                "huggingface")).resolve("hub");
    }

    /** {@code spec} as a model folder: a Hugging Face id resolved in the cache, anything else as a path. */
    public static Path folder(String spec) {
        return isModelId(spec) ? resolve(spec) : Path.of(spec);
    }

    /** The snapshot folder of model {@code id} in this machine's cache (see {@link #resolve(String, Path)}). */
    public static Path resolve(String id) {
        return resolve(id, hubDir());
    }

    /**
     * The snapshot folder of model {@code id} below {@code hub}: the one {@code refs/main} names,
     * else the only snapshot there is.
     *
     * @throws PeftException when the id is not cached, saying where it looked
     */
    public static Path resolve(String id, Path hub) {
        if (!ID.matcher(id).matches()) {
            throw new PeftException("'" + id + "' is not a Hugging Face model id (org/name)");
        }
        Path repo = hub.resolve("models--" + id.replace("/", "--"));
        Path snapshots = repo.resolve("snapshots");
        if (!Files.isDirectory(snapshots)) {
            throw new PeftException("model " + id + " is not in the Hugging Face cache: no " + snapshots
                    + " (peft4j works offline; download it once with huggingface-cli, or set HF_HOME / HF_HUB_CACHE)");
        }
        Path ref = repo.resolve("refs").resolve("main");
        try {
            if (Files.isRegularFile(ref)) {
                String commit = Files.readString(ref, StandardCharsets.UTF_8).strip();
                Path snapshot = snapshots.resolve(commit);
                if (commit.isEmpty() || commit.contains("/") || !Files.isDirectory(snapshot)) {
                    throw new PeftException("model " + id + ": " + ref + " names snapshot '" + commit
                            + "', which is not in " + snapshots);
                }
                return snapshot;
            }
            List<Path> all;
            try (Stream<Path> s = Files.list(snapshots)) {
                all = s.filter(Files::isDirectory).sorted().toList();
            }
            if (all.size() != 1) {
                throw new PeftException("model " + id + ": " + ref + " is missing and " + snapshots + " holds "
                        + all.size() + " snapshots " + all.stream().map(p -> p.getFileName().toString()).toList()
                        + "; pass the snapshot folder itself as --model");
            }
            return all.get(0);
        } catch (IOException e) {
            throw new PeftException("cannot read the Hugging Face cache at " + repo + ": " + e.getMessage(), e);
        }
    }
}
