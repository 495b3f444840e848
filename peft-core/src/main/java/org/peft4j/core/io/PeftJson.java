package org.peft4j.core.io;

import org.peft4j.api.config.PeftConfig;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.peft4j.api.PeftException;

/**
 * The JSON dialect of {@code adapter_config.json}: HF's layout (2-space indent, sorted keys,
 * {@code ": "} separators), unknown keys kept, malformed input reported as {@link PeftException}.
 */
public final class PeftJson {
    private static final ObjectMapper MAPPER = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES, true);
    private static final DefaultPrettyPrinter PRINTER = new DefaultPrettyPrinter()
            .withSeparators(Separators.createDefaultInstance()
                    .withObjectFieldValueSpacing(Separators.Spacing.AFTER))
            .withArrayIndenter(DefaultPrettyPrinter.NopIndenter.instance);

    private PeftJson() {
    }

    /** The shared mapper; do not reconfigure it. */
    public static ObjectMapper mapper() {
        return MAPPER;
    }

    /** Parses a JSON object, or fails naming what was wrong. */
    public static ObjectNode parseObject(String json) {
        JsonNode node;
        try {
            node = MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            throw new PeftException("adapter config is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (node == null || !node.isObject()) {
            throw new PeftException("adapter config must be a JSON object, got "
                    + (node == null ? "nothing" : node.getNodeType()));
        }
        return (ObjectNode) node;
    }

    /** Binds a JSON object to a config class, or fails naming the bad field. */
    public static <C extends PeftConfig> C bind(ObjectNode json, Class<C> type) {
        try {
            return MAPPER.treeToValue(json, type);
        } catch (JsonProcessingException e) {
            throw new PeftException("bad " + type.getSimpleName() + ": " + e.getOriginalMessage(), e);
        } catch (IllegalArgumentException e) {
            // thrown by a config's own validation inside Jackson's creator call
            Throwable root = e.getCause() != null ? e.getCause() : e;
            throw new PeftException("bad " + type.getSimpleName() + ": " + root.getMessage(), e);
        }
    }

    /** Writes a config as HF does: sorted keys, 2-space indent. */
    public static String write(PeftConfig config) {
        return writeTree(MAPPER.valueToTree(config));
    }

    /**
     * Writes a config as {@code save_pretrained} does: like {@link #write(PeftConfig)}, with
     * {@code inference_mode} set to true.
     */
    public static String writeForSave(PeftConfig config) {
        ObjectNode tree = MAPPER.valueToTree(config);
        tree.put("inference_mode", true);
        return writeTree(tree);
    }

    private static String writeTree(JsonNode tree) {
        try {
            return MAPPER.writer(PRINTER).writeValueAsString(sorted(tree));
        } catch (JsonProcessingException e) {
            throw new PeftException("cannot write config " + tree, e);
        }
    }

    private static JsonNode sorted(JsonNode node) {
        if (node.isObject()) {
            List<String> names = new ArrayList<>();
            node.fieldNames().forEachRemaining(names::add);
            Collections.sort(names);
            ObjectNode out = MAPPER.createObjectNode();
            for (String n : names) {
                out.set(n, sorted(node.get(n)));
            }
            return out;
        }
        return node;
    }
}
