package org.peft4j.examples.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.peft4j.api.Peft;
import org.peft4j.api.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.config.PeftJson;
import org.peft4j.api.io.AdapterFiles;
import org.peft4j.api.io.HostTensor;
import org.peft4j.api.train.LrSchedule;
import org.peft4j.api.train.Trainer;
import org.peft4j.api.train.TrainingOptions;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.models.bert.BertForSequenceClassification;
import org.peft4j.models.data.Example;
import org.peft4j.models.data.TextDataset;
import org.peft4j.models.task.TextClassifier;
import org.peft4j.models.text.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code peft train}: fine-tunes a classifier with a PEFT method, evaluates it, saves the adapter
 * in Hugging Face PEFT's layout, and prints one JSON line of results last.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Fine-tune a sequence classifier with a PEFT method and save the adapter.")
final class TrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", defaultValue = "minilm",
            description = "'minilm' (bundled all-MiniLM-L6-v2) or a Hugging Face model folder. Default: ${DEFAULT-VALUE}")
    String model;

    @Option(names = "--method", defaultValue = "lora", description = "PEFT method (peft_type, e.g. lora). Default: ${DEFAULT-VALUE}")
    String method;

    @Option(names = "--backend", description = "Tensor backend (djl, nd4j). Default: system property peft.backend or djl")
    String backend;

    @Option(names = "--train", defaultValue = "data/sst2/train-20k.tsv", description = "Training data (.tsv, .csv, .jsonl). Default: ${DEFAULT-VALUE}")
    Path train;

    @Option(names = "--eval", defaultValue = "data/sst2/dev.tsv", description = "Evaluation data. Default: ${DEFAULT-VALUE}")
    Path eval;

    @Option(names = "--out", defaultValue = "runs/lora-minilm-sst2", description = "Adapter output folder. Default: ${DEFAULT-VALUE}")
    Path outDir;

    @Option(names = "--text-column", defaultValue = "sentence")
    String textColumn;

    @Option(names = "--pair-column", description = "Second text column, for sentence pairs")
    String pairColumn;

    @Option(names = "--label-column", defaultValue = "label")
    String labelColumn;

    @Option(names = "--epochs", defaultValue = "1")
    int epochs;

    @Option(names = "--max-steps", defaultValue = "0", description = "Stop after this many steps (0: no limit)")
    int maxSteps;

    @Option(names = "--max-train-examples", defaultValue = "0", description = "Use a seeded sample of this many training examples (0: all)")
    int maxTrainExamples;

    @Option(names = "--batch-size", defaultValue = "32")
    int batchSize;

    @Option(names = "--lr", defaultValue = "1e-3", description = "Peak learning rate. Default: ${DEFAULT-VALUE}")
    float lr;

    @Option(names = "--weight-decay", defaultValue = "0.01")
    float weightDecay;

    @Option(names = "--warmup-ratio", defaultValue = "0.06")
    float warmupRatio;

    @Option(names = "--schedule", defaultValue = "linear", description = "linear, cosine or constant")
    String schedule;

    @Option(names = "--grad-accum", defaultValue = "1")
    int gradAccum;

    @Option(names = "--max-grad-norm", defaultValue = "1.0")
    float maxGradNorm;

    @Option(names = "--max-length", defaultValue = "64", description = "Longest token sequence. Default: ${DEFAULT-VALUE}")
    int maxLength;

    @Option(names = "--seed", defaultValue = "42")
    long seed;

    @Option(names = "--set", description = "Override a method config key (HF name), e.g. --set r=16 --set target_modules=[\"query\",\"key\"]")
    Map<String, String> overrides = new LinkedHashMap<>();

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Progress progress = new Progress(spec.commandLine().getErr());
        requireFile(train, "--train");
        requireFile(eval, "--eval");
        if (batchSize <= 0 || maxLength < 8) {
            throw new PeftCli.UsageException("--batch-size must be positive and --max-length at least 8");
        }
        TrainingOptions options = new TrainingOptions(epochs, maxSteps, lr, weightDecay, warmupRatio,
                LrSchedule.parse(schedule), maxGradNorm, gradAccum, seed, 10);
        TextDataset trainData = TextDataset.read(train, textColumn, pairColumn, labelColumn);
        if (maxTrainExamples > 0) {
            trainData = trainData.sample(maxTrainExamples, seed);
        }
        TextDataset evalData = TextDataset.read(eval, textColumn, pairColumn, labelColumn);
        int numLabels = Math.max(trainData.numLabels(), evalData.numLabels());
        String backendName = backend == null ? Peft.defaultBackendName() : backend;
        PeftConfig config = MethodConfigs.build(method, overrides);

        PretrainedEncoder encoder = PretrainedEncoder.load(model);
        progress.line("peft: " + Peft.registry().tuner(config.peftType()).peftType() + " on " + encoder.name()
                + ", backend " + backendName + ", " + trainData.size() + " training and " + evalData.size()
                + " evaluation examples");
        try (Backend b = Peft.backend(backendName); Tokenizer tokenizer = encoder.tokenizer()) {
            BertForSequenceClassification net = new BertForSequenceClassification(encoder.build(b), numLabels, seed);
            PeftModel peft = new PeftModel(net, Peft.registry(), seed);
            peft.addAdapter("default", config);
            PeftModel.ParameterCount count = peft.parameterCount();
            progress.line("peft: " + count);
            TextClassifier classifier = new TextClassifier(net, tokenizer, maxLength);

            Trainer<List<Example>> trainer = new Trainer<>(net, options);
            TextDataset data = trainData;
            Trainer.Result result = trainer.train(epoch -> data.lengthBucketedBatches(batchSize, seed + epoch),
                    classifier::loss, List::size, progress::step);
            progress.done();
            progress.line(String.format(java.util.Locale.ROOT, "peft: trained %d steps in %.1f s, loss %.4f -> %.4f",
                    result.steps(), result.seconds(), result.firstLoss(), result.lastLoss()));

            long evalStart = System.nanoTime();
            TextClassifier.Evaluation ev = classifier.evaluate(evalData.examples(), 64);
            double evalSeconds = (System.nanoTime() - evalStart) / 1e9;

            peft.save(outDir, "default");
            long adapterBytes = Files.size(outDir.resolve(AdapterFiles.WEIGHTS_FILE));

            ObjectNode json = PeftJson.mapper().createObjectNode();
            json.put("method", config.peftType());
            json.put("backend", b.name());
            json.put("model", encoder.name());
            json.put("accuracy", round(ev.accuracy()));
            json.put("eval_loss", round(ev.loss()));
            json.put("eval_examples", ev.examples());
            json.put("trainable_params", count.trainable());
            json.put("total_params", count.total());
            json.put("trainable_percent", round(count.percent()));
            json.put("train_examples", result.examples());
            json.put("train_steps", result.steps());
            json.put("skipped_steps", result.skippedSteps());
            json.put("train_seconds", round(result.seconds()));
            json.put("examples_per_second", round(result.examples() / result.seconds()));
            json.put("eval_seconds", round(evalSeconds));
            json.put("peak_heap_mb", Memory.peakHeapMb());
            json.put("peak_rss_mb", Memory.peakRssMb());
            json.put("adapter_dir", outDir.toString());
            json.put("adapter_bytes", adapterBytes);
            out.println(PeftJson.mapper().writeValueAsString(json));
            out.flush();
        }
        return 0;
    }

    static void requireFile(Path file, String flag) {
        if (!Files.isRegularFile(file)) {
            throw new PeftCli.UsageException(flag + " file not found: " + file);
        }
    }

    private static double round(double v) {
        return Math.round(v * 10000.0) / 10000.0;
    }
}
