package org.peft4j.examples.cli;

import java.io.PrintWriter;
import org.peft4j.api.PeftException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The {@code peft} command. Exit codes: 0 success, 1 failure while running, 2 bad usage
 * (wrong flags, missing files, unknown method or backend) reported in one line.
 */
@Command(name = "peft", mixinStandardHelpOptions = true, version = "peft4j 0.1.0-SNAPSHOT",
        description = "Parameter-efficient fine-tuning on the JVM.",
        subcommands = {ListCommand.class, TrainCommand.class, EvalCommand.class, EmbedCommand.class,
                MergeCommand.class, ExportOnnxCommand.class, GenerateCommand.class, TrainLmCommand.class, ServeCommand.class, LoadtestCommand.class,
                CommandLine.HelpCommand.class})
public final class PeftCli {

    public static void main(String[] args) {
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        if (java.util.Arrays.asList(args).contains("--verbose")) {
            // before any logger exists: slf4j-simple reads its level once
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "info");
        }
        System.exit(run(args));
    }

    @Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT,
            description = "Show the engines' INFO logging (DJL, ND4J, JavaCPP), quiet by default")
    boolean verbose;

    /** Runs the CLI and returns the exit code (for tests). */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new PeftCli());
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            PrintWriter err = cmd.getErr();
            if (ex instanceof PeftException || ex instanceof UsageException) {
                err.println("peft: " + ex.getMessage());
                return 2;
            }
            err.println("peft: failed: " + ex);
            ex.printStackTrace(err);
            return 1;
        });
        cli.setParameterExceptionHandler((ex, a) -> {
            ex.getCommandLine().getErr().println("peft: " + ex.getMessage() + " (see '"
                    + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
            return 2;
        });
        return cli.execute(args);
    }

    /** A bad flag value or file, reported in one line with exit code 2. */
    static final class UsageException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }
}
