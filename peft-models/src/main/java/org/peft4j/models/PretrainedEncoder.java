package org.peft4j.models;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.core.io.HostTensor;
import org.peft4j.core.io.Safetensors;
import org.peft4j.models.io.HfCache;
import org.peft4j.models.bert.BertConfig;
import org.peft4j.models.bert.BertForSequenceClassification;
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

    private static final String HEAD_WEIGHT = "classifier.weight";
    private static final String HEAD_BIAS = "classifier.bias";

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

    /**
     * Loads {@code "minilm"} (the bundled all-MiniLM-L6-v2), a Hugging Face model folder, or a
     * Hugging Face model id ({@code sentence-transformers/all-MiniLM-L6-v2}) from the local cache
     * ({@link HfCache}).
     */
    public static PretrainedEncoder load(String spec) {
        if (spec.equalsIgnoreCase(MINILM)) {
            return new PretrainedEncoder("all-MiniLM-L6-v2", MiniLm.config(), MiniLm.weights(), "", null);
        }
        Path dir = HfCache.isModelId(spec) ? HfCache.resolve(spec) : Path.of(spec);
        if (!Files.isDirectory(dir)) {
            throw new PeftException("model '" + spec + "' is neither 'minilm', a folder, nor a Hugging Face id (org/name)");
        }
        for (String f : new String[] {"config.json", "model.safetensors"}) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                throw new PeftException("model folder " + dir + " has no " + f
                        + "; expected config.json, model.safetensors and (to tokenize text) tokenizer.json");
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

    /**
     * A sequence classifier on {@code backend} reading HF's pooler output (mean pooling when the
     * weights have no pooler): see {@link #classifier(Backend, int, long, BertForSequenceClassification.Pooling)}.
     */
    public BertForSequenceClassification classifier(Backend backend, int numLabels, long seed) {
        return classifier(backend, numLabels, seed, null);
    }

    /**
     * A sequence classifier on {@code backend}: the encoder plus the folder's trained head
     * ({@code classifier.weight}/{@code classifier.bias}, as {@code peft merge} and full
     * fine-tuning write) when it has one, else a new seeded head.
     *
     * @param numLabels outputs of a new head; ignored (0 allowed) when the folder has a head
     * @param pooling what the head reads; null: HF's pooler output, or the mean without a pooler
     */
    public BertForSequenceClassification classifier(Backend backend, int numLabels, long seed,
            BertForSequenceClassification.Pooling pooling) {
        HostTensor w = weights.get(HEAD_WEIGHT);
        HostTensor b = weights.get(HEAD_BIAS);
        if (w == null) {
            if (numLabels < 2) {
                throw new PeftException("model " + name + " has no classification head and the number of labels is "
                        + numLabels + "; a classifier needs at least 2 labels");
            }
            return create(build(backend), numLabels, seed, pooling);
        }
        if (b == null || w.shape().length != 2 || w.shape()[1] != config.hiddenSize()
                || b.shape().length != 1 || b.shape()[0] != w.shape()[0]) {
            throw new PeftException("model " + name + " has a malformed classification head: classifier.weight "
                    + java.util.Arrays.toString(w.shape()) + ", classifier.bias "
                    + (b == null ? "missing" : java.util.Arrays.toString(b.shape())) + "; expected (labels, "
                    + config.hiddenSize() + ") and (labels)");
        }
        BertForSequenceClassification model = create(build(backend), (int) w.shape()[0], seed, pooling);
        org.peft4j.api.nn.Linear head = model.child("classifier", org.peft4j.api.nn.Linear.class);
        head.weight().set(w.to(backend));
        head.bias().set(b.to(backend));
        return model;
    }

    private static BertForSequenceClassification create(BertModel bert, int labels, long seed,
            BertForSequenceClassification.Pooling pooling) {
        return pooling == null ? new BertForSequenceClassification(bert, labels, seed)
                : new BertForSequenceClassification(bert, labels, seed, pooling);
    }

    /** Labels of the folder's trained classification head, or 0 when it has none. */
    public int headLabels() {
        HostTensor w = weights.get(HEAD_WEIGHT);
        return w == null ? 0 : (int) w.shape()[0];
    }

    /** The bytes of this model's {@code tokenizer.json}. */
    public byte[] tokenizerJson() {
        try (InputStream in = tokenizerFile == null ? MiniLm.tokenizerJson() : Files.newInputStream(tokenizerFile)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new PeftException("cannot read the tokenizer of " + name + ": " + e.getMessage(), e);
        }
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
        if (!Files.isRegularFile(tokenizerFile)) {
            throw new PeftException("model folder " + tokenizerFile.getParent() + " has no tokenizer.json, which "
                    + "tokenizing text needs");
        }
        return Tokenizer.fromFile(tokenizerFile);
    }
}
