package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.core.Peft;
import org.peft4j.api.PeftException;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.core.io.PeftJson;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.core.io.HostTensor;
import org.peft4j.lora.LoraConfig;
import org.peft4j.testkit.Reference;
import org.peft4j.testkit.TinyMlp;

/** LoRA adapters saved in HF PEFT's layout load back to the same outputs, on another backend too. */
class AdapterFilesTest {
    @TempDir
    Path dir;

    private static PeftModel lora(Backend b, long seed) {
        PeftModel m = new PeftModel(new TinyMlp(b, 8, 16, 2, 1), Peft.registry(), seed);
        m.addAdapter("default", LoraConfig.builder().r(4).targetModules("fc1", "fc2").modulesToSave("classifier")
                .initLoraWeights(LoraConfig.InitLoraWeights.RANDOM).build());
        return m;
    }

    @Test
    void saveThenLoadReproducesOutputsAcrossBackendsAndSeeds() throws Exception {
        float[] x = Reference.randoms(5 * 8, 9);
        float[] saved;
        try (Backend djl = Peft.backend("djl"); Scope s = djl.scope()) {
            PeftModel m = lora(djl, 1);
            saved = ((TinyMlp) m.model()).forward(djl.fromFloats(x, 5, 8)).toFloatArray();
            m.save(dir, "default");
        }
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder("adapter_config.json", "adapter_model.safetensors");
        }
        JsonNode json = PeftJson.mapper().readTree(dir.resolve("adapter_config.json").toFile());
        assertThat(json.get("peft_type").asText()).isEqualTo("LORA");
        assertThat(json.get("inference_mode").asBoolean()).isTrue();
        assertThat(json.has("extras")).isFalse();
        AdapterFiles.Loaded loaded = AdapterFiles.load(dir, Peft.registry());
        assertThat(loaded.tensors()).containsKeys("base_model.model.fc1.lora_A.weight",
                "base_model.model.fc2.lora_B.weight", "base_model.model.classifier.weight",
                "base_model.model.classifier.bias");
        assertThat(loaded.tensors().get("base_model.model.fc1.lora_A.weight").shape()).containsExactly(4, 8);
        assertThat(loaded.tensors().get("base_model.model.fc1.lora_B.weight").shape()).containsExactly(16, 4);
        for (String name : new String[] {"djl", "nd4j"}) {
            try (Backend b = Peft.backend(name); Scope s = b.scope()) {
                // a different adapter seed: only the loaded values may matter
                PeftModel m = new PeftModel(new TinyMlp(b, 8, 16, 2, 1), Peft.registry(), 99);
                m.loadAdapter("default", loaded);
                Tensor y = ((TinyMlp) m.model()).forward(b.fromFloats(x, 5, 8));
                assertThat(Reference.maxAbsDiff(y.toFloatArray(), saved)).as(name).isLessThan(1e-5f);
            }
        }
    }

    @Test
    void anAdapterForAnotherModelIsRefusedNamingTheMismatch() {
        try (Backend b = Peft.backend("djl")) {
            PeftModel m = lora(b, 1);
            Map<String, HostTensor> tensors = new LinkedHashMap<>();
            m.adapterState("default").forEach((k, p) -> tensors.put(k, HostTensor.of(p.value())));
            tensors.put("base_model.model.fc1.lora_A.weight", new HostTensor(new long[] {4, 9}, new float[36]));
            AdapterFiles.save(dir, m.config("default"), tensors);
            PeftModel other = new PeftModel(new TinyMlp(b, 8, 16, 2, 1), Peft.registry(), 2);
            assertThatThrownBy(() -> other.loadAdapter("default", AdapterFiles.load(dir, Peft.registry())))
                    .isInstanceOf(PeftException.class).hasMessageContaining("fc1.lora_A.weight")
                    .hasMessageContaining("[4, 9]");
            // nothing of the refused adapter is left behind
            assertThat(other.adapters()).isEmpty();
            assertThat(other.model().namedParameters().keySet()).noneMatch(k -> k.contains("lora_"));
            assertThatThrownBy(() -> AdapterFiles.load(dir.resolve("missing"), Peft.registry()))
                    .isInstanceOf(PeftException.class).hasMessageContaining("adapter_config.json");
        }
    }

    @Test
    void biasesTrainAndAreSavedAsTheBiasSettingSays() {
        try (Backend b = Peft.backend("djl")) {
            PeftModel only = new PeftModel(new TinyMlp(b, 8, 16, 2, 1), Peft.registry(), 1);
            only.addAdapter("default", LoraConfig.builder().r(2).targetModules("fc1").bias("lora_only").build());
            assertThat(only.model().trainableParameters()).containsOnlyKeys("fc1.base_layer.bias",
                    "fc1.lora_A.default.weight", "fc1.lora_B.default.weight");
            assertThat(only.adapterState("default")).containsOnlyKeys("base_model.model.fc1.base_layer.bias",
                    "base_model.model.fc1.lora_A.weight", "base_model.model.fc1.lora_B.weight");

            PeftModel all = new PeftModel(new TinyMlp(b, 8, 16, 2, 1), Peft.registry(), 1);
            all.addAdapter("default", LoraConfig.builder().r(2).targetModules("fc1").bias("all").build());
            assertThat(all.adapterState("default")).containsOnlyKeys("base_model.model.fc1.base_layer.bias",
                    "base_model.model.fc2.bias", "base_model.model.classifier.bias",
                    "base_model.model.fc1.lora_A.weight", "base_model.model.fc1.lora_B.weight");
            assertThat(all.model().trainableParameters().keySet()).containsExactlyInAnyOrder("fc1.base_layer.bias",
                    "fc2.bias", "classifier.bias", "fc1.lora_A.default.weight", "fc1.lora_B.default.weight");
        }
    }
}
