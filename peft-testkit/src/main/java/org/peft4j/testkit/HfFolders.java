package org.peft4j.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.peft4j.core.io.HostTensor;
import org.peft4j.core.io.Safetensors;

/** Writes the tiny test models as Hugging Face folders. */
final class HfFolders {
    private HfFolders() {
    }

    /** {@code config.json} and {@code model.safetensors} in {@code dir} (created); returns {@code dir}. */
    static Path write(Path dir, String config, Map<String, HostTensor> weights) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), config);
            Safetensors.write(dir.resolve("model.safetensors"), weights, Map.of("format", "pt"));
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
