package org.peft4j.models.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.core.Peft;
import org.peft4j.models.PretrainedDecoder;
import org.peft4j.models.decoder.CausalLM;
import org.peft4j.testkit.TinyLlama;

/** Models by Hugging Face id from a cache laid out as Hugging Face's libraries lay it out, offline. */
class HfCacheTest {
    @TempDir
    Path hub;

    /** models--org--name/{refs/main, snapshots/<commit>/...}, as huggingface_hub writes it. */
    private Path cache(String id, String... commits) throws IOException {
        Path repo = hub.resolve("models--" + id.replace("/", "--"));
        Path last = null;
        for (String commit : commits) {
            last = TinyLlama.write(repo.resolve("snapshots").resolve(commit), TinyLlama.weights(1));
        }
        return last;
    }

    @Test
    void anIdResolvesToTheSnapshotRefsMainNamesAndTheModelLoads() throws IOException {
        cache("acme/tiny-llama", "1111", "2222");
        Files.createDirectories(hub.resolve("models--acme--tiny-llama/refs"));
        Files.writeString(hub.resolve("models--acme--tiny-llama/refs/main"), "2222\n");
        Path dir = HfCache.resolve("acme/tiny-llama", hub);
        assertThat(dir).isEqualTo(hub.resolve("models--acme--tiny-llama/snapshots/2222"));
        try (Backend b = Peft.backend("djl")) {
            CausalLM lm = PretrainedDecoder.load(b, dir);
            assertThat(lm.modelType()).isEqualTo("llama");
        }
    }

    @Test
    void withoutRefsMainTheOnlySnapshotIsTaken() throws IOException {
        Path only = cache("acme/one", "abc");
        assertThat(HfCache.resolve("acme/one", hub)).isEqualTo(only);
        cache("acme/two", "a", "b");
        assertThatThrownBy(() -> HfCache.resolve("acme/two", hub)).isInstanceOf(PeftException.class)
                .hasMessageContaining("2 snapshots [a, b]");
    }

    @Test
    void anIdNotInTheCacheSaysWhereItLooked() {
        assertThatThrownBy(() -> HfCache.resolve("sentence-transformers/all-MiniLM-L6-v2", hub))
                .isInstanceOf(PeftException.class)
                .hasMessageContaining("not in the Hugging Face cache")
                .hasMessageContaining(hub.resolve("models--sentence-transformers--all-MiniLM-L6-v2").resolve("snapshots")
                        .toString());
        assertThatThrownBy(() -> HfCache.resolve("../etc", hub)).isInstanceOf(PeftException.class)
                .hasMessageContaining("not a Hugging Face model id");
    }

    @Test
    void refsMainNamingAMissingSnapshotIsAClearError() throws IOException {
        cache("acme/tiny", "1111");
        Files.createDirectories(hub.resolve("models--acme--tiny/refs"));
        Files.writeString(hub.resolve("models--acme--tiny/refs/main"), "../../../x");
        assertThatThrownBy(() -> HfCache.resolve("acme/tiny", hub)).isInstanceOf(PeftException.class)
                .hasMessageContaining("names snapshot '../../../x'");
    }

    @Test
    void existingPathsAreNeverTakenForIds() throws IOException {
        Path folder = Files.createDirectories(hub.resolve("org/name"));
        assertThat(HfCache.isModelId(folder.toString())).isFalse();
        assertThat(HfCache.isModelId("sentence-transformers/all-MiniLM-L6-v2")).isTrue();
        assertThat(HfCache.isModelId("minilm")).isFalse();
    }
}
