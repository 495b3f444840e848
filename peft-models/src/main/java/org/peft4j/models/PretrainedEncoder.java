package org.peft4j.models;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.io.HostTensor;
import org.peft4j.api.io.Safetensors;
import org.peft4j.models.bert.BertConfig;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.io.MiniLm;
import org.peft4j.models.text.Tokenizer;

/**
 * A pretrained BERT-family encoder ready to build on any backend: the bundled all-MiniLM-L6-v2
 * ({@code "minilm"}) or a Hugging Face folder with {@code config.json}, {@code model.safetensors}
 * and {@code tokenizer.json}.
 */
public final class PretrainedEncoder {
    /** The model spec naming the bundled all-MiniLM-L6-v2. */
    public static final String MINILM = "minilm";

    private final String name;
    private final BertConfig config;
    private final Map<String, HostTensor> weights;
    private final String prefix;
    private final Path tokenizerFile;

    private PretrainedEncoder(String name, BertConfig config, Map<String, HostTensor> weights, String prefix,
            Path tokenizerFile) {
        this.name = name;
        this.config = config;
        this.weights = weights;
        this.prefix = prefix;
        this.tokenizerFile = tokenizerFile;
    }

    /** Loads {@code "minilm"} or a Hugging Face model folder. */
    public static PretrainedEncoder load(String spec) {
        if (spec.equalsIgnoreCase(MINILM)) {
            return new PretrainedEncoder("all-MiniLM-L6-v2", MiniLm.config(), MiniLm.weights(), "", null);
        }
        Path dir = Path.of(spec);
        if (!Files.isDirectory(dir)) {
            throw new PeftException("model '" + spec + "' is neither 'minilm' nor a folder");
        }
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json"}) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                throw new PeftException("model folder " + dir + " has no " + f
                        + "; expected config.json, model.safetensors and tokenizer.json");
            }
        }
        BertConfig config;
        try {
            config = new ObjectMapper().readValue(dir.resolve("config.json").toFile(), BertConfig.class);
        } catch (IOException e) {
            throw new PeftException("cannot read " + dir.resolve("config.json") + ": " + e.getMessage(), e);
        }
        Map<String, HostTensor> weights = Safetensors.read(dir.resolve("model.safetensors"));
        String prefix = weights.containsKey("bert.embeddings.word_embeddings.weight") ? "bert." : "";
        return new PretrainedEncoder(dir.getFileName().toString(), config, weights, prefix,
                dir.resolve("tokenizer.json"));
    }

    /** A short name for reports. */
    public String name() {
        return name;
    }

    public BertConfig config() {
        return config;
    }

    /** The encoder on {@code backend}. */
    public BertModel build(Backend backend) {
        return new BertModel(backend, config, weights, prefix);
    }

    /** A new tokenizer for this model; the caller closes it. */
    public Tokenizer tokenizer() {
        if (tokenizerFile == null) {
            try (InputStream in = MiniLm.tokenizerJson()) {
                return Tokenizer.fromJson(in);
            } catch (IOException e) {
                throw new PeftException("cannot read the bundled tokenizer: " + e.getMessage(), e);
            }
        }
        return Tokenizer.fromFile(tokenizerFile);
    }
}
