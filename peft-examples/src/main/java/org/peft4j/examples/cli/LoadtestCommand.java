package org.peft4j.examples.cli;

import java.io.PrintWriter;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.peft4j.serve.LoadGenerator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code peft loadtest}: {@link LoadGenerator} against a running {@code peft serve}; the last
 * line is one JSON object with the request count, errors, throughput and latency percentiles.
 */
@Command(name = "loadtest", mixinStandardHelpOptions = true,
        description = "Send single-text requests from concurrent clients to a peft server and report throughput and latency.")
final class LoadtestCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--url", required = true, description = "The server, for example http://127.0.0.1:8080")
    URI url;

    @Option(names = "--models", required = true, split = ",", description = "Model names to cycle through, comma-separated")
    List<String> models;

    @Option(names = "--concurrency", defaultValue = "16", description = "Clients sending at once. Default: ${DEFAULT-VALUE}")
    int concurrency;

    @Option(names = "--requests", defaultValue = "1000", description = "Requests in all. Default: ${DEFAULT-VALUE}")
    int requests;

    @Option(names = "--warmup", defaultValue = "0",
            description = "Requests sent first and left out of the figures (this client's JIT warms up on them). Default: ${DEFAULT-VALUE}")
    int warmup;

    @Option(names = "--endpoint", defaultValue = "embeddings", description = "embeddings or classify. Default: ${DEFAULT-VALUE}")
    String endpoint;

    @Option(names = "--max-seconds", defaultValue = "300", description = "Stop sending after this long. Default: ${DEFAULT-VALUE}")
    int maxSeconds;

    @Option(names = "--swap", paramLabel = "NAME=DIR", description = "Replace adapter NAME with folder DIR (as the server resolves it) repeatedly during the run")
    Map<String, String> swap;

    @Option(names = "--swap-every-ms", defaultValue = "100", description = "Interval of --swap. Default: ${DEFAULT-VALUE}")
    int swapEveryMs;

    @Option(names = "--api-key", defaultValue = "${env:PEFT_API_KEY}", description = "Bearer token. Default: env PEFT_API_KEY")
    String apiKey;

    @Override
    public Integer call() throws InterruptedException {
        if (swap != null && swap.size() != 1) {
            throw new PeftCli.UsageException("--swap takes one NAME=DIR, got " + swap.keySet());
        }
        Map.Entry<String, String> s = swap == null ? null : swap.entrySet().iterator().next();
        LoadGenerator.Options options = new LoadGenerator.Options(url, models, endpoint, concurrency, requests, warmup,
                Duration.ofSeconds(maxSeconds), apiKey == null || apiKey.isEmpty() ? null : apiKey,
                s == null ? null : s.getKey(), s == null ? null : s.getValue(), swapEveryMs);
        PrintWriter out = spec.commandLine().getOut();
        out.println("peft: " + concurrency + " clients, " + (warmup > 0 ? warmup + " warm-up and " : "") + requests
                + " requests to " + url + "/v1/" + endpoint);
        out.flush();
        out.println(LoadGenerator.run(options).toJson());
        out.flush();
        return 0;
    }
}
