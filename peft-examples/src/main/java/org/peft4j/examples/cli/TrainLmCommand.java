package org.peft4j.examples.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingOptions;
import org.peft4j.models.PretrainedDecoder;
import org.peft4j.models.data.Example;
import org.peft4j.models.data.TextDataset;
import org.peft4j.models.decoder.CausalLM;
import org.peft4j.models.text.Tokenizer;
import org.peft4j.models.io.HfCache;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code peft train-lm}: fine-tunes a GPT-2 or LLaMA folder as a causal language model on plain
 * texts with a PEFT method, reports the held-out loss and perplexity, saves the adapter in HF
 * PEFT's layout ({@code task_type} CAUSAL_LM) and prints one JSON line last.
 */
@Command(name = "train-lm", mixinStandardHelpOptions = true,
        description = "Fine-tune a GPT-2 or LLaMA folder on texts (next-token loss) with a PEFT method and save the adapter.")
final class TrainLmCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    BatchOptions batching = new BatchOptions(8, 128);

    @Option(names = "--model", required = true,
            description = "Hugging Face GPT-2 or LLaMA folder or cached model id (org/name) (config.json, model.safetensors, tokenizer.json)")
    String modelSpec;

    /** The model folder {@code --model} names (a cached Hugging Face id is resolved). */
    private Path model;

    @Option(names = "--backend", description = "Tensor backend (djl, nd4j). Default: system property peft.backend or djl")
    String backend;

    @Option(names = "--method", defaultValue = "lora",
            description = "PEFT method (lora, adapter, prefix, prompt, p_tuning, ia3, any installed peft_type). Default: ${DEFAULT-VALUE}")
    String method;

    @Option(names = "--train", required = true, description = "Texts: .txt (one per line), or .jsonl/.tsv/.csv with --text-column")
    Path train;

    @Option(names = "--eval", description = "Held-out texts for loss and perplexity (same formats)")
    Path eval;

    @Option(names = "--text-column", defaultValue = "text", description = "Text field of .jsonl/.tsv/.csv files. Default: ${DEFAULT-VALUE}")
    String textColumn;

    @Option(names = "--out", description = "Adapter folder. Default: runs/<method>-<model folder>-lm")
    Path outDir;

    @Mixin
    TrainingFlags training;

    @Override
    public Integer call() throws Exception {
        model = HfCache.folder(modelSpec);
        PrintWriter out = spec.commandLine().getOut();
        Progress progress = new Progress(spec.commandLine().getErr());
        if (batching.batchSize <= 0 || training.epochs <= 0 || batching.maxLength < 2) {
            throw new PeftCli.UsageException("--batch-size and --epochs must be positive and --max-length at least 2");
        }
        if (method.equalsIgnoreCase(TrainCommand.FULL)) {
            throw new PeftCli.UsageException("train-lm trains a PEFT method; full fine-tuning of decoders is not offered");
        }
        if (!Files.isDirectory(model)) {
            throw new PeftCli.UsageException("--model " + model + " is not a folder");
        }
        ModelOptions.requireFile(model.resolve("tokenizer.json"), "--model's tokenizer.json");
        ModelOptions.requireFile(train, "--train");
        if (eval != null) {
            ModelOptions.requireFile(eval, "--eval");
        }
        TrainingOptions options = training.options(method);
        float peakLr = options.learningRate();
        long seed = training.seed;
        Path out0 = outDir != null ? outDir
                : Path.of("runs", method.toLowerCase(Locale.ROOT) + "-" + model.toAbsolutePath().normalize().getFileName() + "-lm");

        try (Wiring wiring = Wiring.of(backend); Tokenizer tokenizer = Tokenizer.fromFile(model.resolve("tokenizer.json"))) {
            String backendName = wiring.backendName();
            Backend b = wiring.backend();
            CausalLM lm = PretrainedDecoder.load(b, model);
            PeftConfig config = MethodConfigs.build(wiring.registry(), method, lm.modelType(), training.overrides);
            TextDataset trainData = texts(tokenizer, train);
            TextDataset evalData = eval == null ? null : texts(tokenizer, eval);
            progress.line("peft: " + config.peftType() + " on " + lm.modelType() + " " + model.getFileName() + ", backend "
                    + backendName + ", " + trainData.size() + " training texts, lr " + peakLr);
            PeftModel peft = wiring.factory().create(lm, seed, text -> tokenizer.encode(List.of(text), batching.maxLength).ids(0));
            peft.addAdapter("default", config);
            PeftModel.ParameterCount count = peft.parameterCount();
            progress.line("peft: " + count);

            Trainer<List<Example>> trainer = new Trainer<>(lm, options, null);
            Trainer.Result result = trainer.train(epoch -> trainData.lengthBucketedBatches(batching.batchSize, training.seed + epoch),
                    batch -> {
                        Tokenizer.Batch enc = tokenizer.encode(texts(batch), batching.maxLength);
                        return lm.loss(b.fromLongs(enc.inputIds(), enc.batchSize(), enc.seqLen()), enc.attentionMask());
                    },
                    List::size, progress::step);
            progress.done();
            progress.line(String.format(Locale.ROOT, "peft: trained %d steps in %.1f s, loss %.4f -> %.4f",
                    result.steps(), result.seconds(), result.firstLoss(), result.lastLoss()));

            Report report = new Report().put("method", config.peftType()).put("backend", b.name())
                    .put("model", model.toString()).put("model_type", lm.modelType()).parameters(count)
                    .put("train_examples", result.examples()).put("train_steps", result.steps())
                    .put("skipped_steps", result.skippedSteps()).put("train_seconds", result.seconds())
                    .put("examples_per_second", result.examples() / result.seconds())
                    .put("first_loss", result.firstLoss()).put("last_loss", result.lastLoss());
            if (evalData != null) {
                double loss = evaluate(lm, b, tokenizer, evalData);
                report.put("eval_loss", loss).put("perplexity", Math.exp(loss)).put("eval_examples", evalData.size());
            }
            peft.save(out0, "default");
            report.put("adapter_dir", out0.toString()).put("adapter_bytes", Files.size(out0.resolve(AdapterFiles.WEIGHTS_FILE)))
                    .print(out);
        }
        return 0;
    }

    /** The texts of a file, without those too short to predict a token from (fewer than 2 tokens). */
    private TextDataset texts(Tokenizer tokenizer, Path file) {
        List<Example> kept = new ArrayList<>();
        for (Example e : TextDataset.read(file, textColumn, null, null).examples()) {
            if (tokenizer.encode(List.of(e.text()), batching.maxLength).length(0) >= 2) {
                kept.add(e);
            }
        }
        if (kept.isEmpty()) {
            throw new PeftCli.UsageException(file + " has no text of at least 2 tokens");
        }
        return TextDataset.of(kept);
    }

    private static List<String> texts(List<Example> batch) {
        return batch.stream().map(Example::text).toList();
    }

    /** Mean next-token loss over every predicted token of the texts (batches weighted by their targets). */
    private double evaluate(CausalLM lm, Backend b, Tokenizer tokenizer, TextDataset data) {
        boolean wasTraining = lm.isTraining();
        lm.setTraining(false);
        double sum = 0;
        long targets = 0;
        try {
            for (List<Example> batch : data.lengthBucketedBatches(batching.batchSize, training.seed)) {
                Tokenizer.Batch enc = tokenizer.encode(texts(batch), batching.maxLength);
                long n = 0;
                for (int r = 0; r < enc.batchSize(); r++) {
                    n += Math.max(0, enc.length(r) - 1);
                }
                try (Scope s = b.scope()) {
                    sum += lm.loss(b.fromLongs(enc.inputIds(), enc.batchSize(), enc.seqLen()), enc.attentionMask()).item() * n;
                }
                targets += n;
            }
        } finally {
            lm.setTraining(wasTraining);
        }
        return sum / targets;
    }
}
