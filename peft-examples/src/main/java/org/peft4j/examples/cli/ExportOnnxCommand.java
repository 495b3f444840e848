package org.peft4j.examples.cli;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Parameter;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.core.io.AtomicFiles;
import org.peft4j.core.io.HostTensor;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.models.io.MiniLm;
import org.peft4j.models.io.BertOnnx;
import org.peft4j.models.task.Classifiers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code peft export-onnx}: the encoder with an adapter merged in, as an ONNX file that ONNX
 * Runtime and LangChain4j's {@code OnnxEmbeddingModel} load: for {@code minilm} the bundled graph
 * with the merged initializers (same inputs and outputs as the original), for a Hugging Face
 * folder a graph built from the model ({@link BertOnnx#build}); with the classification head's
 * {@code logits} as an extra output when the adapter or the folder has a trained head.
 */
@Command(name = "export-onnx", mixinStandardHelpOptions = true,
        description = "Merge an adapter into the encoder and write it as an ONNX file (outputs: last hidden state, "
                + "pooler output, and the classification head's logits when the adapter has a head).")
final class ExportOnnxCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--adapter", required = true, description = "Adapter folder to merge (a mergeable method: LoRA, IA3)")
    Path adapter;

    @Option(names = "--out", required = true, description = "The .onnx file to write")
    Path out;

    @Override
    public Integer call() throws IOException {
        ModelOptions.requireAdapterDir(adapter, "--adapter");
        PretrainedEncoder encoder = modelOptions.encoder();
        Map<String, HostTensor> merged = new LinkedHashMap<>();
        String method;
        BertOnnx.Head head = null;
        try (Wiring wiring = modelOptions.wiring()) {
            AdapterFiles.Loaded loaded = wiring.readAdapter(adapter);
            method = loaded.config().peftType();
            if (!wiring.registry().tuner(method).canMerge()) {
                throw new PeftException(method + " adapters cannot be merged into the weights, so there is no plain"
                        + " ONNX graph for them; mergeable methods: " + wiring.registry().tuners().entrySet().stream()
                        .filter(e -> e.getValue().canMerge()).map(Map.Entry::getKey).toList());
            }
            Classifiers.Loaded model = Classifiers.load(encoder, wiring.factory(), loaded, 2);
            model.peft().mergeAndUnload();
            model.net().bert().namedParameters().forEach((name, p) -> merged.put(name, HostTensor.of(p.value())));
            if (Classifiers.head(loaded) != null || encoder.headLabels() > 0) {
                Map<String, Parameter> params = model.net().namedParameters();
                head = new BertOnnx.Head(model.net().pooling(), HostTensor.of(params.get("classifier.weight").value()),
                        HostTensor.of(params.get("classifier.bias").value()));
            }
        }
        byte[] onnx;
        if (modelOptions.model.equalsIgnoreCase(PretrainedEncoder.MINILM)) {
            try (InputStream in = MiniLm.onnx()) {
                onnx = BertOnnx.withWeights(in, merged, head);
            }
        } else {
            onnx = BertOnnx.build(encoder.config(), merged, head);
        }
        AtomicFiles.writeAll(Map.of(out, onnx));
        new Report().put("method", method).put("onnx_file", out.toString()).put("onnx_bytes", Files.size(out))
                .put("logits_labels", head == null ? 0 : head.weight().shape()[0])
                .print(spec.commandLine().getOut());
        return 0;
    }
}
