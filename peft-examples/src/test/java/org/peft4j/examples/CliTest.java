package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;
import org.peft4j.examples.cli.PeftCli;

class CliTest {

    private static String[] run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true));
            System.setErr(new PrintStream(e, true));
            int code = PeftCli.run(args);
            return new String[] {Integer.toString(code), o.toString(), e.toString()};
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void listPrintsMethodsAndBackends() {
        String[] r = run("list");
        assertThat(r[0]).isEqualTo("0");
        assertThat(r[1]).contains("LORA").contains("djl").contains("nd4j").contains("[default]");
    }

    @Test
    void unknownFlagIsOneLineAndExitCode2() {
        String[] r = run("list", "--bogus");
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2].strip().lines()).hasSize(1);
        assertThat(r[2]).contains("--bogus");
    }
}
