package org.peft4j.core.io;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.peft4j.api.PeftException;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.core.io.PeftJson;
import org.peft4j.core.PeftRegistry;

/**
 * Hugging Face PEFT's adapter folder: {@value #CONFIG_FILE} and {@value #WEIGHTS_FILE}. The adapter
 * named {@code default} lives in the folder itself, any other in a subfolder named after it.
 */
public final class AdapterFiles {
    /** The config file name. */
    public static final String CONFIG_FILE = "adapter_config.json";
    /** The weights file name. */
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    /** Metadata HF PEFT writes into the weights file. */
    public static final Map<String, String> METADATA = Map.of("format", "pt");

    private AdapterFiles() {
    }

    /** Where adapter {@code name} is saved below {@code root}, as HF PEFT lays it out. */
    public static Path adapterDir(Path root, String name) {
        return name.equals("default") ? root : root.resolve(name);
    }

    /**
     * Saves an adapter. Both files are staged as temporary files first and put in place together:
     * if anything fails, the folder keeps the previous adapter, whole and loadable.
     */
    public static void save(Path dir, PeftConfig config, Map<String, HostTensor> tensors) {
        save(dir, config, tensors, target -> { });
    }

    /** {@link #save(Path, PeftConfig, Map)} with a fault-injection hook for tests. */
    static void save(Path dir, PeftConfig config, Map<String, HostTensor> tensors,
            java.util.function.Consumer<Path> beforeCommit) {
        byte[] weights = Safetensors.toBytes(tensors, METADATA);
        byte[] json = (PeftJson.writeForSave(config) + "\n").getBytes(StandardCharsets.UTF_8);
        Map<Path, byte[]> files = new java.util.LinkedHashMap<>();
        files.put(dir.resolve(WEIGHTS_FILE), weights);
        files.put(dir.resolve(CONFIG_FILE), json);
        AtomicFiles.writeAll(files, beforeCommit);
    }

    /**
     * A loaded adapter.
     *
     * @param config the config, bound to its method's class
     * @param tensors the weights by HF name
     */
    public record Loaded(PeftConfig config, Map<String, HostTensor> tensors) {
    }

    /**
     * The adapter renamed for a task model when it was saved on the base model inside it, as HF
     * names tensors by the class PEFT wrapped: an adapter on {@code BertModel}
     * ({@code base_model.model.encoder...}) becomes one on {@code BertForSequenceClassification}
     * ({@code base_model.model.bert.encoder...}), one on {@code GPT2Model} ({@code ...h.0...}) one on
     * {@code GPT2LMHeadModel} ({@code ...transformer.h.0...}). An adapter already in the task model's
     * naming, or naming nothing of the inner model, is returned as it is.
     *
     * @param innerName the inner model's name in the task model ({@code bert}, {@code transformer}, {@code model})
     * @param innerChildren the inner model's top-level module names ({@code embeddings}, {@code encoder}, ...)
     */
    public static Loaded forTaskModel(Loaded adapter, String innerName, java.util.Set<String> innerChildren) {
        String prefix = "base_model.model.";
        boolean taskNaming = adapter.tensors().keySet().stream().anyMatch(k -> k.startsWith(prefix + innerName + "."));
        java.util.function.Predicate<String> inner = k -> k.startsWith(prefix)
                && innerChildren.contains(k.substring(prefix.length()).split("\\.", 2)[0]);
        if (taskNaming || adapter.tensors().keySet().stream().noneMatch(inner)) {
            return adapter;
        }
        Map<String, HostTensor> renamed = new java.util.LinkedHashMap<>();
        adapter.tensors().forEach((k, v) -> renamed.put(
                inner.test(k) ? prefix + innerName + "." + k.substring(prefix.length()) : k, v));
        return new Loaded(adapter.config(), renamed);
    }

    /** Loads an adapter folder, binding the config through the registry. */
    public static Loaded load(Path dir, PeftRegistry registry) {
        return new Loaded(readConfig(dir, registry), readTensors(dir));
    }

    /** An adapter folder's tensors by HF name. */
    public static Map<String, HostTensor> readTensors(Path dir) {
        return Safetensors.read(dir.resolve(WEIGHTS_FILE));
    }

    /** An adapter folder's config, bound through the registry; the weights file must be there too. */
    public static PeftConfig readConfig(Path dir, PeftRegistry registry) {
        Path config = dir.resolve(CONFIG_FILE);
        if (!Files.isRegularFile(config) || !Files.isRegularFile(dir.resolve(WEIGHTS_FILE))) {
            throw new PeftException("adapter folder " + dir + " must hold " + CONFIG_FILE + " and " + WEIGHTS_FILE
                    + (Files.isDirectory(dir) ? "" : " (the folder does not exist)"));
        }
        try {
            return registry.parseConfig(Files.readString(config, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new PeftException("cannot read " + config + ": " + e.getMessage(), e);
        }
    }

    /** The names and shapes of an adapter folder's tensors, from the weights file's header only. */
    public static Map<String, long[]> readShapes(Path dir) {
        return Safetensors.readShapes(dir.resolve(WEIGHTS_FILE));
    }
}
