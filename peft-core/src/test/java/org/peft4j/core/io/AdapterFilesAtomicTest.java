package org.peft4j.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.PeftException;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.config.TaskType;

/** A save that fails part-way leaves the previous adapter folder whole. */
class AdapterFilesAtomicTest {
    @TempDir
    Path dir;

    record TestConfig(int version) implements PeftConfig {
        @Override
        public String peftType() {
            return "TEST";
        }

        @Override
        public Shared shared() {
            return Shared.NONE;
        }
    }

    private static Map<String, HostTensor> tensors(float v) {
        return Map.of("base_model.model.x.lora_A.weight", new HostTensor(new long[] {2, 2}, new float[] {v, v, v, v}));
    }

    @Test
    void aFailureWhileFilesArePutInPlaceKeepsThePreviousAdapter() throws Exception {
        AdapterFiles.save(dir, new TestConfig(1), tensors(1f));
        String configBefore = Files.readString(dir.resolve(AdapterFiles.CONFIG_FILE));
        for (String failing : new String[] {AdapterFiles.WEIGHTS_FILE, AdapterFiles.CONFIG_FILE}) {
            // the weights are already in place when the config fails: they must be rolled back
            assertThatThrownBy(() -> AdapterFiles.save(dir, new TestConfig(2), tensors(2f), target -> {
                if (target.getFileName().toString().equals(failing)) {
                    throw new PeftException("simulated disk failure at " + target);
                }
            })).isInstanceOf(PeftException.class).hasMessageContaining("simulated");
            assertThat(Files.readString(dir.resolve(AdapterFiles.CONFIG_FILE))).isEqualTo(configBefore);
            assertThat(Safetensors.read(dir.resolve(AdapterFiles.WEIGHTS_FILE)).get("base_model.model.x.lora_A.weight")
                    .data()).containsOnly(1f);
            try (Stream<Path> files = Files.list(dir)) {
                assertThat(files.map(p -> p.getFileName().toString()))
                        .containsExactlyInAnyOrder(AdapterFiles.CONFIG_FILE, AdapterFiles.WEIGHTS_FILE);
            }
        }
        AdapterFiles.save(dir, new TestConfig(3), tensors(3f));
        assertThat(Files.readString(dir.resolve(AdapterFiles.CONFIG_FILE))).containsPattern("\"version\"\\s*:\\s*3");
    }
}
