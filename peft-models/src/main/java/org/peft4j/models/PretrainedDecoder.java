package org.peft4j.models;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.core.io.HostTensor;
import org.peft4j.core.io.Safetensors;
import org.peft4j.models.decoder.CausalLM;
import org.peft4j.models.gpt2.Gpt2Config;
import org.peft4j.models.gpt2.Gpt2LMHeadModel;
import org.peft4j.models.llama.LlamaConfig;
import org.peft4j.models.llama.LlamaForCausalLM;

/**
 * Loads a decoder-only causal LM from a Hugging Face folder ({@code config.json} and
 * {@code model.safetensors}), choosing the architecture by {@code model_type}.
 */
public final class PretrainedDecoder {
    /** The {@code model_type} values this library loads. */
    public static final List<String> MODEL_TYPES = List.of("gpt2", "llama");

    private PretrainedDecoder() {
    }

    /** Whether {@code dir} holds a decoder this class loads (its {@code config.json} names a {@link #MODEL_TYPES} type). */
    public static boolean isDecoder(Path dir) {
        Path config = dir.resolve("config.json");
        try {
            return Files.isRegularFile(config) && Files.size(config) < (1 << 20)
                    && MODEL_TYPES.contains(new ObjectMapper().readTree(config.toFile()).path("model_type").asText(""));
        } catch (IOException e) {
            return false;
        }
    }

    /** The model in {@code dir}, weights on {@code backend}. */
    public static CausalLM load(Backend backend, Path dir) {
        for (String f : new String[] {"config.json", "model.safetensors"}) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                throw new PeftException("model folder " + dir + " has no " + f + "; expected config.json and model.safetensors");
            }
        }
        ObjectMapper json = new ObjectMapper();
        Path configFile = dir.resolve("config.json");
        JsonNode config;
        try {
            config = json.readTree(configFile.toFile());
        } catch (IOException e) {
            throw new PeftException("cannot read " + configFile + ": " + e.getMessage(), e);
        }
        String type = config.path("model_type").asText("");
        if (!MODEL_TYPES.contains(type)) {
            throw new PeftException(configFile + " has model_type '" + type + "'; supported decoders: " + MODEL_TYPES);
        }
        Map<String, HostTensor> weights = Safetensors.read(dir.resolve("model.safetensors"));
        try {
            return switch (type) {
                case "llama" -> new LlamaForCausalLM(WeightMap.of(backend, weights, ""),
                        json.treeToValue(config, LlamaConfig.class));
                default -> new Gpt2LMHeadModel(WeightMap.of(backend, gpt2Names(weights), ""),
                        json.treeToValue(config, Gpt2Config.class));
            };
        } catch (JsonProcessingException e) {
            throw new PeftException("cannot read " + configFile + ": " + e.getOriginalMessage(), e);
        }
    }

    /** The original GPT-2 checkpoints name the stack's tensors without {@code transformer.}; add it. */
    private static Map<String, HostTensor> gpt2Names(Map<String, HostTensor> weights) {
        if (weights.keySet().stream().anyMatch(k -> k.startsWith("transformer."))) {
            return weights;
        }
        Map<String, HostTensor> out = new LinkedHashMap<>();
        weights.forEach((k, v) -> out.put(k.startsWith("lm_head.") ? k : "transformer." + k, v));
        return out;
    }
}
