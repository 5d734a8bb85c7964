package org.sockmap4j.badinput;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.sockmap4j.testing.ChildProcess;
import org.sockmap4j.testing.Exec;

/** Runs a peer's {@code main} in a child JVM to completion and collects its {@link Outcome}s. */
final class ChildJvm {
    private ChildJvm() {}

    private static final Duration TIMEOUT = Duration.ofSeconds(90);

    /** What the child did: its exit, output and outcomes. */
    record Run(Exec.Result result, Map<String, Outcome> outcomes) {
        /** The outcome of {@code scenario}; fails if the child reported none. */
        Outcome of(String scenario) {
            assertThat(outcomes).as("outcomes of %s", result).containsKey(scenario);
            return outcomes.get(scenario);
        }

        /**
         * Asserts the JVM survived every scenario: exit status 0 after its last line, no fatal
         * error report (a crash in native code prints "A fatal error has been detected").
         */
        void assertExitedNormally() {
            assertThat(result.stderr()).as("stderr of %s", result).doesNotContain("A fatal error has been detected");
            assertThat(result.exitCode()).as("exit status of %s", result).isZero();
            assertThat(result.stdout().lines().reduce((a, b) -> b)).as("last line of %s", result).contains("done");
        }
    }

    /**
     * Runs {@code PREFIX... java [jvmArgs] peer args...} (the same java and classpath as this JVM,
     * see {@link ChildProcess.Builder#command()}); the child is killed after 90 s.
     */
    static Run run(List<String> prefix, Class<?> peer, List<String> jvmArgs, String... args) {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(ChildProcess.builder(peer.getName()).jvmArgs(jvmArgs.toArray(String[]::new)).args(args).command());
        Exec.Result r = Exec.run(new ProcessBuilder(cmd).directory(new java.io.File("/tmp")), TIMEOUT);
        return new Run(r, Outcome.parse(r.stdout()));
    }
}
