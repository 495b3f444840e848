package org.peft4j.examples.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Locale;
import java.util.Map;
import org.peft4j.core.PeftRegistry;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.core.io.PeftJson;

/**
 * The CLI's default config for each method on a BERT classifier or a decoder, as JSON with HF key names,
 * with {@code --set key=value} overrides applied before the registry binds it, so every
 * method (including third-party ones) is configured the same way.
 */
final class MethodConfigs {
    private MethodConfigs() {
    }

    /** CLI method names that differ from their peft_type. */
    private static final Map<String, String> ALIASES = Map.of("ADAPTER", "BOTTLENECK", "PREFIX", "PREFIX_TUNING",
            "PROMPT", "PROMPT_TUNING");

    /** The peft_type a CLI method name stands for: {@code adapter} is {@code BOTTLENECK}, else the name in capitals. */
    static String peftType(String method) {
        String type = method.toUpperCase(Locale.ROOT);
        return ALIASES.getOrDefault(type, type);
    }

    /**
     * The defaults for a CLI method name (lora, adapter, ia3, ...), or just the peft_type for
     * unknown ones: on the BERT classifier ({@code decoderType} null) every method keeps the head in
     * {@code modules_to_save}; on a decoder ({@code gpt2}, {@code llama}) the targets are HF PEFT's
     * defaults for that model type.
     */
    static ObjectNode defaults(String method, String decoderType) {
        String type = peftType(method);
        ObjectNode n = PeftJson.mapper().createObjectNode();
        n.put("peft_type", type);
        n.put("task_type", decoderType == null ? "SEQ_CLS" : "CAUSAL_LM");
        if (decoderType == null) {
            n.putArray("modules_to_save").add("classifier");
        }
        if (type.equals("LORA")) {
            n.put("r", 8);
            n.put("lora_alpha", 16);
            n.put("lora_dropout", 0.1);
            if (decoderType == null) {
                // every linear layer of the encoder (HF's all-linear without the head): 0.87 on SST-2 where query,value alone reach 0.85
                n.putArray("target_modules").add("query").add("key").add("value").add("dense");
            } else if (decoderType.equals("gpt2")) {
                n.putArray("target_modules").add("c_attn");
                n.put("fan_in_fan_out", true);
            } else {
                n.putArray("target_modules").add("q_proj").add("v_proj");
            }
        } else if (type.equals("BOTTLENECK")) {
            // Pfeiffer: one adapter after each feed-forward sub-layer, bottleneck 384 / 16 = 24 on MiniLM;
            // only the preset is set, so --set config=houlsby|parallel brings that preset's own defaults
            n.put("config", "pfeiffer");
        } else if (type.equals("PROMPT_TUNING") || type.equals("P_TUNING") || type.equals("PREFIX_TUNING")) {
            n.put("num_virtual_tokens", 20);
            if (type.equals("P_TUNING")) {
                n.put("encoder_reparameterization_type", "MLP");
                n.put("encoder_hidden_size", 128);
            }
        } else if (type.equals("IA3")) {
            // HF PEFT's default mapping for the model type
            String[][] targets = decoderType == null ? new String[][] {{"key", "value", "output.dense"}, {"output.dense"}}
                    : decoderType.equals("gpt2") ? new String[][] {{"c_attn", "mlp.c_proj"}, {"mlp.c_proj"}}
                    : new String[][] {{"k_proj", "v_proj", "down_proj"}, {"down_proj"}};
            java.util.Arrays.stream(targets[0]).forEach(n.putArray("target_modules")::add);
            java.util.Arrays.stream(targets[1]).forEach(n.putArray("feedforward_modules")::add);
        }
        return n;
    }

    /**
     * The peak learning rate the CLI uses for a method when {@code --lr} is not given: full
     * fine-tuning moves every weight and needs a small one; IA3's scaling vectors need a larger
     * one (0.82 on SST-2 dev after 300 steps at 5e-3); the default suits LoRA and bottleneck adapters.
     */
    static float defaultLearningRate(String method) {
        String type = peftType(method);
        return switch (type) {
            case "FULL" -> 5e-5f;
            case "IA3" -> 5e-3f;
            // soft prompts and prefixes move slowly at LoRA's rate (HF's examples use 1e-2 to 3e-2)
            case "PROMPT_TUNING" -> 3e-2f;
            case "P_TUNING", "PREFIX_TUNING" -> 1e-2f;
            default -> 1e-3f;
        };
    }

    /** Defaults for the BERT classifier plus overrides, bound to the method's config class. */
    static PeftConfig build(PeftRegistry methods, String method, Map<String, String> overrides) {
        return build(methods, method, null, overrides);
    }

    /**
     * Defaults for the classifier ({@code decoderType} null) or a decoder, plus overrides, bound to
     * the config class {@code methods} has for the method.
     */
    static PeftConfig build(PeftRegistry methods, String method, String decoderType, Map<String, String> overrides) {
        methods.tuner(peftType(method)); // unknown method: fail listing the installed ones
        ObjectNode n = defaults(method, decoderType);
        overrides.forEach((k, v) -> n.set(k, parse(v)));
        return methods.parseConfig(n.toString());
    }

    /** A value as JSON when it parses as JSON (numbers, true, lists), else as a string. */
    private static JsonNode parse(String v) {
        try {
            return PeftJson.mapper().readTree(v);
        } catch (JsonProcessingException e) {
            return PeftJson.mapper().getNodeFactory().textNode(v);
        }
    }
}
