package org.sockmap4j.examples;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;

/** The README shows {@link Quickstart} verbatim, and it runs. */
class QuickstartTest {
    private static String body() throws Exception {
        String src = Files.readString(Path.of("src/test/java/org/sockmap4j/examples/Quickstart.java"));
        return src.substring(src.indexOf("import java.net"), src.lastIndexOf('}') + 1)
                .replace("/** The README's quickstart, compiled and run by the test suite. */\n", "");
    }

    @Test
    void readmeShowsTheCompiledQuickstart() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        assertThat(readme).contains(body());
    }

    @Privileged
    @Test
    void quickstartRunsAgainstTheKernel() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream old = System.out;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            Quickstart.main(new String[0]);
        } finally {
            System.setOut(old);
        }
        String[] lines = out.toString(StandardCharsets.UTF_8).split("\n");
        assertThat(lines[0]).isEqualTo("true");
        assertThat(lines).hasSize(3);
        assertThat(lines[1]).contains("-> cookie ");
    }
}
