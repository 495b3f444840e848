package org.peft4j.examples.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.train.Checkpoints;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.peft4j.core.io.PeftJson;
import org.peft4j.spark.ClassifierJob;
import org.peft4j.spark.SparkGradients;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingOptions;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.models.bert.BertForSequenceClassification;
import org.peft4j.models.data.Example;
import org.peft4j.models.data.TextDataset;
import org.peft4j.models.io.ModelFolder;
import org.peft4j.models.task.TextClassifier;
import org.peft4j.models.text.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code peft train}: fine-tunes a classifier with a PEFT method (or in full), evaluates it,
 * saves the adapter in Hugging Face PEFT's layout (a full model folder for {@code full}), and
 * prints one JSON line of results last.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Fine-tune a sequence classifier with a PEFT method and save the adapter.")
final class TrainCommand implements Callable<Integer> {
    /** The CLI name of full fine-tuning: every weight trains, no adapter. */
    static final String FULL = "full";

    @Spec
    CommandSpec spec;

    @Mixin
    BatchOptions batching = new BatchOptions(32, 64);

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    DataOptions dataOptions;

    @Mixin
    TrainingFlags training;

    @Option(names = "--method", defaultValue = "lora",
            description = "PEFT method (lora, adapter, prefix, prompt, p_tuning, ia3, any installed peft_type) or full. Default: ${DEFAULT-VALUE}")
    String method;

    @Option(names = "--train", defaultValue = "data/sst2/train-20k.tsv", description = "Training data (.tsv, .csv, .jsonl). Default: ${DEFAULT-VALUE}")
    Path train;

    @Option(names = "--eval", defaultValue = "data/sst2/dev.tsv", description = "Evaluation data. Default: ${DEFAULT-VALUE}")
    Path eval;

    @Option(names = "--out", description = "Output folder. Default: runs/<method>-minilm-sst2")
    Path outDir;

    @Option(names = "--pooling", defaultValue = "cls_pooler",
            description = "What the classification head reads: cls_pooler ([CLS] -> pooler, as Hugging Face's "
                    + "BertForSequenceClassification; mean when the model has no pooler) or mean (mean of the last "
                    + "hidden state, recorded as peft4j_pooling in adapter_config.json). Default: ${DEFAULT-VALUE}")
    String pooling;

    @Option(names = "--spark", paramLabel = "MASTER",
            description = "Train data-parallel on Apache Spark, for example local[2] or spark://HOST:7077: the driver keeps "
                    + "the weights and the optimizer, each step's batch is split over the tasks, and only the adapter's "
                    + "tensors and gradients travel")
    String spark;

    @Option(names = "--spark-partitions", defaultValue = "0",
            description = "Tasks per step with --spark. Default: the master's default parallelism")
    int sparkPartitions;

    @Option(names = "--max-train-examples", defaultValue = "0", description = "Use a seeded sample of this many training examples (0: all)")
    int maxTrainExamples;

    @Option(names = "--checkpoint-every", defaultValue = "0",
            description = "Save a checkpoint to OUT/checkpoints every N steps and resume from the newest one there (0: off)")
    int checkpointEvery;

    @Override
    public Integer call() throws Exception {
        try (Wiring wiring = modelOptions.wiring()) {
            return train(wiring);
        }
    }

    private Integer train(Wiring wiring) throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Progress progress = new Progress(spec.commandLine().getErr());
        if (batching.batchSize <= 0 || batching.maxLength < 8 || training.epochs <= 0 || checkpointEvery < 0) {
            throw new PeftCli.UsageException("--batch-size and --epochs must be positive, --checkpoint-every >= 0 and "
                    + "--max-length at least 8");
        }
        boolean full = method.equalsIgnoreCase(FULL);
        BertForSequenceClassification.Pooling headPooling = BertForSequenceClassification.Pooling.of(pooling);
        java.util.Map<String, String> overrides = new java.util.LinkedHashMap<>(training.overrides);
        if (headPooling == BertForSequenceClassification.Pooling.MEAN) {
            if (full) {
                throw new PeftCli.UsageException("--pooling mean is recorded in the adapter's config; full fine-tuning "
                        + "saves a plain model folder, which is read with the pooler");
            }
            overrides.put(BertForSequenceClassification.POOLING_KEY, headPooling.key());
        }
        PeftConfig config = full ? null : MethodConfigs.build(wiring.registry(), method, overrides);
        if (full && !training.overrides.isEmpty()) {
            throw new PeftCli.UsageException("--set configures a PEFT method; full fine-tuning has no config");
        }
        TrainingOptions options = training.options(method);
        float peakLr = options.learningRate();
        long seed = training.seed;
        TextDataset trainData = dataOptions.read(train, "--train");
        if (maxTrainExamples > 0) {
            trainData = trainData.sample(maxTrainExamples, seed);
        }
        TextDataset evalData = dataOptions.read(eval, "--eval");
        int numLabels = Math.max(trainData.numLabels(), evalData.numLabels());
        String backendName = wiring.backendName();
        Path out0 = outDir != null ? outDir : Path.of("runs", method.toLowerCase(Locale.ROOT) + "-minilm-sst2");

        PretrainedEncoder encoder = modelOptions.encoder();
        progress.line("peft: " + (full ? "full fine-tuning" : config.peftType()) + " on " + encoder.name()
                + ", backend " + backendName + ", " + trainData.size() + " training and " + evalData.size()
                + " evaluation examples, lr " + peakLr);
        Backend b = wiring.backend();
        try (Tokenizer tokenizer = encoder.tokenizer()) {
            BertForSequenceClassification net = encoder.classifier(b, numLabels, seed,
                    headPooling == BertForSequenceClassification.Pooling.MEAN ? headPooling : null);
            PeftModel peft = null;
            PeftModel.ParameterCount count;
            if (full) {
                net.setTrainable(true);
                long n = net.namedParameters().values().stream().mapToLong(Parameter::numel).sum();
                count = new PeftModel.ParameterCount(n, n);
            } else {
                peft = wiring.factory().create(net, seed);
                peft.addAdapter("default", config);
                count = peft.parameterCount();
            }
            progress.line("peft: " + count);
            TextClassifier classifier = new TextClassifier(net, tokenizer, batching.maxLength);

            Trainer<List<Example>> trainer = new Trainer<>(net, options,
                    checkpointEvery > 0 ? Checkpoints.every(out0.resolve("checkpoints"), checkpointEvery) : null);
            TextDataset data = trainData;
            Trainer.Result result;
            SparkGradients distributed = null;
            if (spark == null) {
                result = trainer.train(epoch -> data.lengthBucketedBatches(batching.batchSize, seed + epoch),
                        classifier::loss, List::size, progress::step);
            } else {
                if (full) {
                    throw new PeftCli.UsageException("--spark trains PEFT methods; full fine-tuning would send every "
                            + "weight over the network each step");
                }
                try (JavaSparkContext sc = new JavaSparkContext(new SparkConf().setMaster(spark).setAppName("peft train")
                        .setIfMissing("spark.ui.enabled", "false"))) {
                    int partitions = sparkPartitions > 0 ? sparkPartitions : sc.defaultParallelism();
                    ClassifierJob job = new ClassifierJob(modelOptions.model, backendName, PeftJson.write(config),
                            numLabels, seed, batching.maxLength, headPooling == BertForSequenceClassification.Pooling.MEAN
                                    ? headPooling.key() : null);
                    distributed = new SparkGradients(sc, job, net.trainableParameters(), partitions);
                    progress.line("peft: on Spark " + spark + ", " + partitions + " tasks per step, "
                            + distributed.bytesPerStep() + " bytes per step");
                    result = trainer.train(epoch -> data.lengthBucketedBatches(batching.batchSize, seed + epoch),
                            distributed, List::size, progress::step);
                }
            }
            progress.done();
            progress.line(String.format(Locale.ROOT, "peft: trained %d steps in %.1f s, loss %.4f -> %.4f",
                    result.steps(), result.seconds(), result.firstLoss(), result.lastLoss()));

            long evalStart = System.nanoTime();
            TextClassifier.Evaluation ev = classifier.evaluate(evalData.examples(), 64);
            double evalSeconds = (System.nanoTime() - evalStart) / 1e9;

            Path savedFile;
            if (full) {
                ModelFolder.writeClassifier(out0, encoder, net);
                savedFile = out0.resolve("model.safetensors");
            } else {
                peft.save(out0, "default");
                savedFile = out0.resolve(AdapterFiles.WEIGHTS_FILE);
            }
            Report report = new Report().put("method", full ? FULL : config.peftType()).put("backend", b.name())
                    .put("model", encoder.name()).evaluation(ev, evalSeconds).parameters(count)
                    .put("train_examples", result.examples()).put("train_steps", result.steps())
                    .put("skipped_steps", result.skippedSteps()).put("train_seconds", result.seconds())
                    .put("examples_per_second", result.examples() / result.seconds())
                    .put(full ? "model_dir" : "adapter_dir", out0.toString())
                    .put(full ? "model_bytes" : "adapter_bytes", Files.size(savedFile));
            if (distributed != null) {
                report.put("workers", distributed.partitions()).put("bytes_per_step", distributed.bytesPerStep());
            }
            report.print(out);
        }
        return 0;
    }
}
