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
import org.peft4j.models.task.Classifiers;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.task.SentenceEmbedder;
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
            BertModel bert = loaded == null ? encoder.build(b)
                    : Classifiers.load(encoder, wiring.factory(), loaded, 2).net().bert();
            for (float[] v : new SentenceEmbedder(bert, tokenizer, maxLength, 32).embed(texts)) {
                StringBuilder line = new StringBuilder("[");
                for (int j = 0; j < v.length; j++) {
                    line.append(j == 0 ? "" : ",").append(v[j]);
                }
                out.println(line.append(']'));
            }
            out.flush();
        }
        return 0;
    }
}
