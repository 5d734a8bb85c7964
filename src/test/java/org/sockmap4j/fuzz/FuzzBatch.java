package org.sockmap4j.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import org.sockmap4j.testing.ChildProcess;

/**
 * Runs {@link ElfFuzzChild} in one child JVM over a list of variant seeds and collects its
 * lines. If the child dies or stalls, fails naming the seed of the variant it was running (the
 * first one without a line) and how to replay it.
 */
final class FuzzBatch {
    private FuzzBatch() {}

    /** How long one variant may take (open twice and load) before the child counts as stalled. */
    private static final Duration PER_VARIANT = Duration.ofSeconds(60);

    /** Exceptions a damaged object may produce; anything else is a bug in the loading path. */
    static final Set<String> EXPECTED_EXCEPTIONS = Set.of("BpfException", "VerifierException",
            "PermissionException", "NotSupportedException", "KeyNotFoundException", "KeyExistsException",
            "MapFullException", "UnsupportedSocketException", "IllegalArgumentException", "IllegalStateException");

    /** Whether an outcome is ok / loaded / not tried, or one of {@link #EXPECTED_EXCEPTIONS}. */
    static boolean typed(String outcome) {
        String ex = Outcome.exception(outcome);
        return ex == null || EXPECTED_EXCEPTIONS.contains(ex);
    }

    /** One line of the child. */
    record Outcome(long index, long seed, String object, String mutations, String check, String bytes, String file,
            String load) {
        static Outcome parse(String line) {
            String[] f = line.split(" ");
            assertThat(f).as("child line '%s'", line).hasSize(9);
            assertThat(f[0]).isEqualTo("V");
            return new Outcome(Long.parseLong(f[1]), ElfFuzzChild.parseSeed(f[2]), f[3], f[4], value(f[5], "check"),
                    value(f[6], "bytes"), value(f[7], "file"), value(f[8], "load"));
        }

        private static String value(String field, String name) {
            assertThat(field).startsWith(name + "=");
            return field.substring(name.length() + 1);
        }

        /** The exception class named by an outcome such as {@code BpfException(EINVAL)}, or null for ok / loaded / -. */
        static String exception(String outcome) {
            if (outcome.equals("ok") || outcome.equals("loaded") || outcome.equals("-")) {
                return null;
            }
            int paren = outcome.indexOf('(');
            return paren < 0 ? outcome : outcome.substring(0, paren);
        }

        @Override
        public String toString() {
            return "variant " + index + " seed " + ElfFuzzChild.hex(seed) + " (" + object + " " + mutations
                    + "): check=" + check + " bytes=" + bytes + " file=" + file + " load=" + load;
        }
    }

    /**
     * Runs the child with {@code args} and expects one line per seed of {@code seeds}, in order,
     * then {@code done} and exit status 0.
     */
    static List<Outcome> run(List<Long> seeds, String... args) {
        Path errorFile = Path.of(System.getProperty("java.io.tmpdir"), "sockmap4j-fuzz-hs_err_pid%p.log");
        List<Outcome> out = new ArrayList<>();
        // the child's variant directory is made and removed here: a child killed on a timeout or
        // by a crash runs no clean-up of its own
        Path dir;
        try {
            dir = Files.createTempDirectory("sockmap4j-fuzz");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<String> childArgs = new ArrayList<>(List.of(args));
        childArgs.addAll(List.of("--dir", dir.toString()));
        try (ChildProcess child = ChildProcess.builder(ElfFuzzChild.class.getName())
                .jvmArgs("-XX:ErrorFile=" + errorFile, "-XX:-CreateCoredumpOnCrash")
                .args(childArgs.toArray(String[]::new)).start()) {
            for (long seed : seeds) {
                String line;
                try {
                    line = child.readLine(PER_VARIANT);
                } catch (AssertionError died) {
                    throw new AssertionError("the fuzz child stopped during the variant with seed "
                            + ElfFuzzChild.hex(seed) + " after " + out.size() + " variants; replay it with: java "
                            + "--enable-native-access=ALL-UNNAMED -cp <test classpath> " + ElfFuzzChild.class.getName()
                            + " --seed " + ElfFuzzChild.hex(seed) + " (a JVM crash writes " + errorFile + ")", died);
                }
                Outcome o = Outcome.parse(line);
                assertThat(o.seed()).as("seed of line '%s'", line).isEqualTo(seed);
                out.add(o);
            }
            assertThat(child.readLine(PER_VARIANT)).isEqualTo("done " + seeds.size());
            assertThat(child.waitFor(Duration.ofSeconds(30))).as("fuzz child exit status; stderr:%n%s", child.stderr())
                    .isZero();
            assertThat(child.stderr()).as("the child's standard error (stack traces of unexpected exceptions)")
                    .doesNotContain("Exception");
        } finally {
            try {
                Files.deleteIfExists(dir.resolve(ElfFuzzChild.VARIANT_FILE));
                Files.deleteIfExists(dir);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return out;
    }
}
