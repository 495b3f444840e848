package org.peft4j.examples.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.text.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code peft embed}: the sentence embedding (mean-pooled, L2-normalised last hidden state, as
 * sentence-transformers computes it) of each {@code --text}, one JSON array of floats per line.
 */
@Command(name = "embed", mixinStandardHelpOptions = true,
        description = "Print sentence embeddings, one JSON array per --text, in order.")
final class EmbedCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--text", required = true, description = "Text to embed (repeat for several)")
    List<String> texts;

    @Option(names = "--adapter", description = "Adapter folder to apply to the encoder first")
    Path adapter;

    @Option(names = "--max-length", defaultValue = "256", description = "Longest token sequence. Default: ${DEFAULT-VALUE}")
    int maxLength;

    @Override
    public Integer call() {
        if (adapter != null) {
            ModelOptions.requireAdapterDir(adapter, "--adapter");
        }
        PretrainedEncoder encoder = modelOptions.encoder();
        PrintWriter out = spec.commandLine().getOut();
        try (Wiring wiring = modelOptions.wiring(); Tokenizer tokenizer = encoder.tokenizer()) {
            AdapterFiles.Loaded loaded = adapter == null ? null : wiring.readAdapter(adapter);
            Backend b = wiring.backend();
            Scope s = b.scope();
            BertModel bert = loaded == null ? encoder.build(b)
                    : Classifiers.load(encoder, wiring.factory(), loaded, 2).net().bert();
            Tokenizer.Batch enc = tokenizer.encode(texts, maxLength);
            long[] shape = {enc.batchSize(), enc.seqLen()};
            Tensor mask = b.fromLongs(enc.attentionMask(), shape);
            Tensor hidden = bert.forward(b.fromLongs(enc.inputIds(), shape), mask, b.fromLongs(enc.tokenTypeIds(), shape));
            Tensor pooled = BertModel.l2Normalize(BertModel.meanPool(hidden,
                    bert.fullMask(mask, hidden.size(1) - enc.seqLen())));
            float[] v = pooled.toFloatArray();
            int dim = (int) pooled.size(1);
            for (int i = 0; i < texts.size(); i++) {
                StringBuilder line = new StringBuilder("[");
                for (int j = 0; j < dim; j++) {
                    line.append(j == 0 ? "" : ",").append(v[i * dim + j]);
                }
                out.println(line.append(']'));
            }
            out.flush();
            s.close();
        }
        return 0;
    }
}
