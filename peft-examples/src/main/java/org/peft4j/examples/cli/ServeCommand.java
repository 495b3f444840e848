package org.peft4j.examples.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.peft4j.api.backend.Backend;
import org.peft4j.models.PretrainedDecoder;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.models.io.HfCache;
import org.peft4j.serve.PeftServer;
import org.peft4j.serve.ServeOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import sun.misc.Signal;

/**
 * {@code peft serve}: one base model (an encoder, or a GPT-2/LLaMA folder for completions) and
 * many adapters behind one HTTP endpoint ({@link PeftServer}). Prints {@code peft: serving on http://HOST:PORT} when ready; SIGTERM or
 * Ctrl-C stops taking requests, finishes those admitted and exits 0.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve a base model and many adapters over HTTP: OpenAI-shaped /v1/embeddings and /v1/classify "
                + "for an encoder, /v1/completions for a GPT-2 or LLaMA folder; adapters loaded and swapped at run time.")
final class ServeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--adapter", paramLabel = "NAME=DIR", description = "Serve the adapter folder DIR as NAME (repeat for several)")
    Map<String, Path> adapters = new LinkedHashMap<>();

    @Option(names = "--adapter-dir", paramLabel = "ROOT",
            description = "The only folder adapters may be loaded from at run time (POST /v1/adapters, or a request "
                    + "naming a sub-folder). Without it run-time loading is refused")
    Path adapterDir;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind. Default: ${DEFAULT-VALUE} (this machine only)")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "Port; 0 picks a free one. Default: ${DEFAULT-VALUE}")
    int port;

    @Option(names = "--max-batch-rows", defaultValue = "64", description = "Most rows per forward pass and inputs per request. Default: ${DEFAULT-VALUE}")
    int maxBatchRows;

    @Option(names = "--max-wait-ms", defaultValue = "5", description = "How long a request waits for others to share its forward pass. Default: ${DEFAULT-VALUE}")
    int maxWaitMs;

    @Option(names = "--workers", defaultValue = "2",
            description = "Forward passes run at once, each over its own batch with cores/N engine threads (unless -D"
                    + Backend.INTRA_OP_THREADS + " is set): one pass's gaps between operations and while its batch is "
                    + "gathered and answered leave the cores to the other. Default: ${DEFAULT-VALUE}")
    int workers;

    @Option(names = "--max-loaded", defaultValue = "64", description = "Most adapters resident; the least recently used is evicted. Default: ${DEFAULT-VALUE}")
    int maxLoaded;

    @Option(names = "--max-queue", defaultValue = "1024", description = "Most rows waiting; beyond it requests get 429. Default: ${DEFAULT-VALUE}")
    int maxQueue;

    @Option(names = "--max-length", defaultValue = "256", description = "Longest token sequence. Default: ${DEFAULT-VALUE}")
    int maxLength;

    @Option(names = "--api-key", defaultValue = "${env:PEFT_API_KEY}",
            description = "Require 'Authorization: Bearer KEY' on every endpoint but /health. Default: env PEFT_API_KEY, else none")
    String apiKey;

    @Override
    public Integer call() throws InterruptedException {
        adapters.forEach((name, dir) -> ModelOptions.requireAdapterDir(dir, "--adapter " + name + "="));
        if (adapterDir != null && !java.nio.file.Files.isDirectory(adapterDir)) {
            throw new PeftCli.UsageException("--adapter-dir " + adapterDir + " is not a folder");
        }
        ServeOptions options = new ServeOptions(host, port, maxBatchRows, maxWaitMs, workers, maxLoaded, maxQueue, maxLength,
                adapterDir, apiKey == null || apiKey.isEmpty() ? null : apiKey);
        if (System.getProperty(Backend.INTRA_OP_THREADS) == null) {
            // before the backend is made: it reads the setting once
            System.setProperty(Backend.INTRA_OP_THREADS,
                    String.valueOf(Math.max(1, Runtime.getRuntime().availableProcessors() / workers)));
        }
        Path folder = modelOptions.model.equalsIgnoreCase(PretrainedEncoder.MINILM) ? null : HfCache.folder(modelOptions.model);
        boolean decoder = folder != null && PretrainedDecoder.isDecoder(folder);
        PretrainedEncoder encoder = decoder ? null : modelOptions.encoder();
        PrintWriter out = spec.commandLine().getOut();
        try (Wiring wiring = modelOptions.wiring();
                PeftServer server = decoder ? PeftServer.startDecoder(folder, wiring.factory(), options, adapters)
                        : PeftServer.start(encoder, wiring.factory(), options, adapters)) {
            Runnable stop = () -> new Thread(server::close, "peft-shutdown").start();
            Signal.handle(new Signal("TERM"), s -> stop.run());
            Signal.handle(new Signal("INT"), s -> stop.run());
            out.println("peft: serving on " + server.uri());
            out.flush();
            server.awaitClose();
        }
        return 0;
    }
}
