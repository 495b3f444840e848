package org.peft4j.examples.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code peft list}: the installed methods (by peft_type) and backends. */
@Command(name = "list", description = "List installed PEFT methods (peft_type) and backends.")
final class ListCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PeftRegistry registry = Peft.registry();
        out.println("methods (peft_type):");
        registry.tuners().forEach((type, tuner) ->
                out.printf("  %-16s %s (config %s)%n", type, tuner.getClass().getName(), tuner.configClass().getSimpleName()));
        out.println("backends:");
        registry.backends().forEach((name, provider) -> out.printf("  %-16s %s%s%n", name, provider.description(),
                name.equals(Peft.defaultBackendName()) ? " [default]" : ""));
        out.flush();
        return 0;
    }
}
