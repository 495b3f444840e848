package org.peft4j.examples.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.models.PretrainedDecoder;
import org.peft4j.models.decoder.CausalLM;
import org.peft4j.models.text.Tokenizer;
import org.peft4j.models.io.HfCache;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code peft generate}: greedy continuation from a GPT-2 or LLaMA Hugging Face folder
 * ({@code config.json}, {@code model.safetensors}, and {@code tokenizer.json} for text), with an
 * optional adapter. Prints the generated ids as a JSON array last, after the text when there is a
 * tokenizer.
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Greedy generation with a GPT-2 or LLaMA model folder (and an optional adapter).")
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, description = "Hugging Face GPT-2 or LLaMA folder (config.json, model.safetensors) or a cached model id (org/name)")
    String modelSpec;

    /** The model folder {@code --model} names (a cached Hugging Face id is resolved). */
    private Path model;

    @Option(names = "--backend", description = "Tensor backend (djl, nd4j). Default: system property peft.backend or djl")
    String backend;

    @Option(names = "--adapter", description = "Adapter folder to apply first")
    Path adapter;

    @Option(names = "--prompt", description = "Prompt text (needs tokenizer.json in the model folder)")
    String prompt;

    @Option(names = "--ids", split = ",", description = "Prompt token ids, comma-separated, instead of --prompt")
    List<Long> ids;

    @Option(names = "--max-new-tokens", defaultValue = "20")
    int maxNewTokens;

    @Option(names = "--eos-id", description = "Stop after this id (-1: never). Default: the config's eos_token_id")
    Long eosId;

    @Override
    public Integer call() {
        model = HfCache.folder(modelSpec);
        if ((prompt == null) == (ids == null)) {
            throw new PeftCli.UsageException("give exactly one of --prompt and --ids");
        }
        if (maxNewTokens < 0) {
            throw new PeftCli.UsageException("--max-new-tokens must be >= 0, got " + maxNewTokens);
        }
        if (!Files.isDirectory(model)) {
            throw new PeftCli.UsageException("--model " + model + " is not a folder");
        }
        if (adapter != null) {
            ModelOptions.requireAdapterDir(adapter, "--adapter");
        }
        Path tokenizerFile = model.resolve("tokenizer.json");
        Tokenizer tokenizer = Files.isRegularFile(tokenizerFile) ? Tokenizer.fromFile(tokenizerFile) : null;
        if (prompt != null && tokenizer == null) {
            throw new PeftCli.UsageException("--prompt needs " + tokenizerFile + "; give --ids instead");
        }
        PrintWriter out = spec.commandLine().getOut();
        try (Wiring wiring = Wiring.of(backend)) {
            CausalLM lm = PretrainedDecoder.load(wiring.backend(), model);
            if (adapter != null) {
                wiring.factory().create(lm, 42).loadAdapter("default", lm.adapterNaming(wiring.readAdapter(adapter)));
            }
            long[] input = prompt != null ? tokenizer.encode(List.of(prompt), lm.maxPositions()).ids(0)
                    : ids.stream().mapToLong(Long::longValue).toArray();
            long[] generated = eosId == null ? lm.generate(input, maxNewTokens, lm.eosTokenIds())
                    : lm.generate(input, maxNewTokens, eosId);
            if (tokenizer != null) {
                out.println(tokenizer.decode(generated));
            }
            out.println(Arrays.toString(generated).replace(" ", ""));
            out.flush();
        } finally {
            if (tokenizer != null) {
                tokenizer.close();
            }
        }
        return 0;
    }
}
