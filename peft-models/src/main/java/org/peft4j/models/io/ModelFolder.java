package org.peft4j.models.io;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.api.PeftException;
import org.peft4j.core.io.PeftJson;
import org.peft4j.core.io.AtomicFiles;
import org.peft4j.core.io.HostTensor;
import org.peft4j.core.io.Safetensors;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.models.bert.BertForSequenceClassification;

/**
 * Writes a Hugging Face model folder ({@code config.json}, {@code model.safetensors},
 * {@code tokenizer.json}) that {@link PretrainedEncoder#load} and HF transformers read back: the
 * output of {@code peft merge} and of full fine-tuning.
 */
public final class ModelFolder {
    private ModelFolder() {
    }

    /**
     * Writes a sequence classifier whose tree holds no adapter layers (plain or merged and
     * unloaded), weights under HF's {@code BertForSequenceClassification} names. All three files
     * are written atomically: on failure an earlier folder stays intact.
     *
     * @throws PeftException when adapter layers are still in the tree
     */
    public static void writeClassifier(Path dir, PretrainedEncoder source, BertForSequenceClassification model) {
        Map<String, HostTensor> weights = new LinkedHashMap<>();
        for (Map.Entry<String, org.peft4j.api.backend.Parameter> e : model.namedParameters().entrySet()) {
            weights.put(e.getKey(), HostTensor.of(e.getValue().value()));
        }
        for (String name : weights.keySet()) {
            if (!name.startsWith("bert.embeddings.") && !name.startsWith("bert.encoder.") && !name.startsWith("bert.pooler.")
                    && !name.startsWith("classifier.")) {
                throw new PeftException("cannot write " + name + " as a plain HF weight: the model still has adapter "
                        + "layers; merge and unload them first");
            }
        }
        int labels = (int) model.child("classifier", org.peft4j.api.nn.Linear.class).outFeatures();
        ObjectNode config = PeftJson.mapper().valueToTree(source.config());
        config.put("model_type", "bert");
        config.putArray("architectures").add("BertForSequenceClassification");
        ObjectNode id2label = config.putObject("id2label");
        ObjectNode label2id = config.putObject("label2id");
        for (int i = 0; i < labels; i++) {
            id2label.put(Integer.toString(i), "LABEL_" + i);
            label2id.put("LABEL_" + i, i);
        }
        Map<Path, byte[]> files = new LinkedHashMap<>();
        files.put(dir.resolve("model.safetensors"), Safetensors.toBytes(weights, Map.of("format", "pt")));
        files.put(dir.resolve("tokenizer.json"), source.tokenizerJson());
        files.put(dir.resolve("config.json"), (config.toPrettyString() + "\n").getBytes(StandardCharsets.UTF_8));
        AtomicFiles.writeAll(files);
    }
}
