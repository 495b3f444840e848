package org.peft4j.core.io;

import org.peft4j.api.config.PeftConfig;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.DeserializationConfig;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.introspect.BeanPropertyDefinition;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.api.PeftException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The JSON dialect of {@code adapter_config.json}: HF's layout (2-space indent, sorted keys,
 * {@code ": "} separators), unknown keys kept, malformed input reported as {@link PeftException}.
 */
public final class PeftJson {
    private static final Logger LOG = LoggerFactory.getLogger(PeftJson.class);
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

    /** Reads a config of a known class from JSON text (the {@code peft_type} key is not needed). */
    public static <C extends PeftConfig> C read(String json, Class<C> type) {
        return bind(parseObject(json), type);
    }

    /**
     * Binds a JSON object to a config class, or fails naming the bad field. The keys of each
     * key group the class declares (a component whose JSON name starts with {@code $}, such as
     * {@link PeftConfig#SHARED} and {@link org.peft4j.api.tuner.TargetSpec#KEYS}) are handed to
     * that component; keys neither the class nor its groups know go to
     * {@link PeftConfig.Shared#extras()}.
     */
    public static <C extends PeftConfig> C bind(ObjectNode json, Class<C> type) {
        ObjectNode rest = json.deepCopy();
        rest.remove("peft_type");
        ObjectNode bound = MAPPER.createObjectNode();
        Map<String, Class<?>> groups = new LinkedHashMap<>();
        for (BeanPropertyDefinition p : properties(type)) {
            if (p.getName().startsWith("$")) {
                groups.put(p.getName(), p.getRawPrimaryType());
            } else if (rest.has(p.getName())) {
                bound.set(p.getName(), rest.remove(p.getName()));
            }
        }
        groups.forEach((name, groupType) -> {
            ObjectNode group = MAPPER.createObjectNode();
            for (BeanPropertyDefinition p : properties(groupType)) {
                if (!p.getName().startsWith("$") && rest.has(p.getName())) {
                    group.set(p.getName(), rest.remove(p.getName()));
                }
            }
            if (!group.isEmpty()) { // an absent group stays null, so the config names what is missing
                bound.set(name, group);
            }
        });
        if (!rest.isEmpty()) {
            if (groups.containsKey(PeftConfig.SHARED)) {
                LOG.debug("{}: keys {} are not peft4j's; kept for the next save", type.getSimpleName(), names(rest));
                bound.with(PeftConfig.SHARED).set("$extras", rest);
            } else {
                bound.setAll(rest); // no place to keep them: let the binding name them
            }
        }
        try {
            return MAPPER.treeToValue(bound, type);
        } catch (JsonProcessingException e) {
            // a config's own validation (a PeftException) says it best; Jackson's words name the field otherwise
            String why = e.getCause() instanceof PeftException p ? p.getMessage() : e.getOriginalMessage();
            throw new PeftException("bad " + type.getSimpleName() + ": " + why, e);
        } catch (IllegalArgumentException e) {
            // thrown by a config's own validation inside Jackson's creator call
            Throwable root = e.getCause() != null ? e.getCause() : e;
            throw new PeftException("bad " + type.getSimpleName() + ": " + root.getMessage(), e);
        }
    }

    private static List<BeanPropertyDefinition> properties(Class<?> type) {
        DeserializationConfig config = MAPPER.getDeserializationConfig();
        return config.introspect(MAPPER.constructType(type)).findProperties();
    }

    private static List<String> names(ObjectNode node) {
        List<String> out = new ArrayList<>();
        node.fieldNames().forEachRemaining(out::add);
        return out;
    }

    /** Writes a config as HF does: key groups as top-level keys, sorted keys, 2-space indent. */
    public static String write(PeftConfig config) {
        return writeTree(hfTree(config));
    }

    /**
     * The config as HF's JSON object. Prompt-learning configs leave out an empty
     * {@code modules_to_save}: HF PEFT 0.10's prompt-learning config classes have no such field and
     * refuse the file that names it.
     */
    private static ObjectNode hfTree(PeftConfig config) {
        ObjectNode tree = MAPPER.valueToTree(config);
        boolean promptLearning = tree.has(org.peft4j.core.tuner.PromptKeys.KEYS);
        ObjectNode out = flat(tree);
        if (promptLearning && config.modulesToSave().isEmpty()) {
            out.remove("modules_to_save");
        }
        return out;
    }

    /**
     * Writes a config as {@code save_pretrained} does: like {@link #write(PeftConfig)}, with
     * {@code inference_mode} set to true.
     */
    public static String writeForSave(PeftConfig config) {
        ObjectNode tree = hfTree(config);
        tree.put("inference_mode", true);
        return writeTree(tree);
    }

    /** Moves the keys of every {@code $group} object up into {@code node}; a key already there wins. */
    private static ObjectNode flat(ObjectNode node) {
        ObjectNode out = MAPPER.createObjectNode();
        List<ObjectNode> groups = new ArrayList<>();
        node.fields().forEachRemaining(e -> {
            if (!e.getKey().startsWith("$")) {
                out.set(e.getKey(), e.getValue());
            } else if (e.getValue() instanceof ObjectNode group) {
                groups.add(flat(group));
            }
        });
        groups.forEach(g -> g.fields().forEachRemaining(e -> {
            if (!out.has(e.getKey())) {
                out.set(e.getKey(), e.getValue());
            }
        }));
        return out;
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
