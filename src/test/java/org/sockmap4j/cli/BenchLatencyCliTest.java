package org.sockmap4j.cli;

import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.sockmap4j.Cgroup;
import org.sockmap4j.testing.ChildProcess;
import org.sockmap4j.testing.Exec;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * {@code sockmap bench latency --time 2}: the talk's experiment end to end. It completes, prints the
 * table (or JSON) with every column for both runs and the change, and leaves no namespace, cgroup
 * or program behind, also when interrupted. No claim about the numbers themselves: that is a
 * benchmark result, not a test.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
class BenchLatencyCliTest {
    /** A hang guard, not a speed claim: generous for TCG guests on a busy host (scripts/vmtest.sh). */
    private static final Duration LIMIT = Duration.ofSeconds(100);
    private static final String NUM = "([+-]?(?:\\d+(?:\\.\\d+)?))";
    private static final Pattern HEADER = Pattern.compile("^\\s+mean\\s+p50\\s+p99\\s+p99\\.9\\s+max\\s+msgs/s\\s*$");
    private static final List<String> KEYS = List.of("mean", "p50", "p99", "p999", "max", "msgs/s");

    private static Pattern row(String label) {
        return Pattern.compile("^" + Pattern.quote(label) + "\\s+" + NUM + "\\s+" + NUM + "\\s+" + NUM + "\\s+" + NUM
                + "\\s+" + NUM + "\\s+" + NUM + "\\s*$");
    }

    private static double[] numbers(List<String> lines, String label) {
        Pattern p = row(label);
        List<Matcher> found = lines.stream().map(p::matcher).filter(Matcher::matches).toList();
        assertThat(found).as("one row '%s' with 6 numbers in:\n%s", label, String.join("\n", lines)).hasSize(1);
        Matcher m = found.get(0);
        double[] v = new double[6];
        for (int i = 0; i < 6; i++) {
            v[i] = Double.parseDouble(m.group(i + 1));
        }
        return v;
    }

    @Test
    @Timeout(180)
    void printsTheTableAndCleansUp() throws Exception {
        long start = System.nanoTime();
        ChildProcess cli = Cli.start("bench", "latency", "--time", "2");
        try {
            List<String> out = drain(cli);
            int exit = Cli.exitStatus(cli, LIMIT);
            assertThat(exit).as("exit status; stdout %s; stderr:\n%s", out, cli.stderr()).isZero();
            assertThat(System.nanoTime() - start).isLessThan(LIMIT.toNanos());

            assertThat(out.get(0)).startsWith("TCP ping-pong netns A <-> B over veth, 2 s per run, ")
                    .contains("latency in us one-way");
            assertThat(out).as("header").anyMatch(l -> HEADER.matcher(l).matches());
            double[] before = numbers(out, "without bypass");
            double[] after = numbers(out, "with bypass");
            double[] change = numbers(out, "change %");
            for (double[] r : List.of(before, after)) {
                for (double v : r) {
                    assertThat(v).isPositive();
                }
                assertThat(r[1]).as("p50 <= p99").isLessThanOrEqualTo(r[2]);
                assertThat(r[2]).as("p99 <= p99.9").isLessThanOrEqualTo(r[3]);
                assertThat(r[3]).as("p99.9 <= max").isLessThanOrEqualTo(r[4]);
            }
            // the change row is the change between the two printed rows (within their rounding)
            assertThat(change[0]).isCloseTo((after[0] - before[0]) * 100 / before[0], within(1.0));
            assertThat(change[5]).isCloseTo((after[5] - before[5]) * 100 / before[5], within(0.2));
            // progress went to stderr, the table alone to stdout
            assertThat(cli.stderr()).contains("without bypass: ").contains("with bypass: ");
            assertCleanedUp(cli.pid());
        } finally {
            tearDown(cli);
        }
    }

    @Test
    @Timeout(180)
    void jsonHasEveryColumnForBothRunsAndTheChange() throws Exception {
        ChildProcess cli = Cli.start("bench", "latency", "--time", "2", "--json");
        try {
            List<String> out = drain(cli);
            int exit = Cli.exitStatus(cli, LIMIT);
            assertThat(exit).as("exit status; stdout %s; stderr:\n%s", out, cli.stderr()).isZero();
            assertThat(out).as("one line of JSON").hasSize(1);
            Map<String, Object> top = MiniJson.object(out.get(0));
            assertThat(top).containsOnlyKeys("tool", "unit", "seconds", "without_bypass", "with_bypass",
                    "change_percent");
            assertThat(top.get("tool")).isIn("sockperf", "built-in Java ping-pong");
            assertThat(((BigDecimal) top.get("seconds")).intValue()).isEqualTo(2);
            for (String run : List.of("without_bypass", "with_bypass", "change_percent")) {
                Map<String, Object> r = MiniJson.obj(top.get(run));
                assertThat(r.keySet()).as(run).containsExactlyElementsOf(KEYS);
                for (String k : KEYS) {
                    assertThat(r.get(k)).as("%s.%s", run, k).isInstanceOf(BigDecimal.class);
                }
            }
            for (String run : List.of("without_bypass", "with_bypass")) {
                Map<String, Object> r = MiniJson.obj(top.get(run));
                for (String k : KEYS) {
                    assertThat(((BigDecimal) r.get(k)).signum()).as("%s.%s", run, k).isPositive();
                }
            }
            assertCleanedUp(cli.pid());
        } finally {
            tearDown(cli);
        }
    }

    @Test
    @Timeout(180)
    void sigintDuringARunTearsEverythingDown() throws Exception {
        ChildProcess cli = Cli.start("bench", "latency", "--time", "60");
        try {
            long pid = cli.pid();
            // wait until the first timed run is under way: its namespaces exist and progress shows
            awaitTrue(() -> cli.stderr().contains("without bypass: "), "progress of the first run");
            assertThat(netnsNames()).contains(nsA(pid), nsB(pid));
            assertThat(benchCgroup(pid)).isPresent();

            Cli.signal(cli, "INT");
            int exit = Cli.exitStatus(cli, Duration.ofSeconds(40));
            assertThat(exit).as("an interrupted benchmark does not report success; stderr:\n%s", cli.stderr())
                    .isNotZero();
            assertThat(cli.stderr()).doesNotContain("\tat ");
            assertCleanedUp(pid);
        } finally {
            tearDown(cli);
        }
    }

    @Test
    @Timeout(180)
    void withoutSockperfTheBuiltInPingPongIsUsed(@TempDir Path bin) throws Exception {
        // a PATH with what the benchmark needs except sockperf
        for (String tool : List.of("sh", "ip", "ss", "taskset", "mount", "umount")) {
            Path target = Exec.run("sh", "-c", "command -v " + tool).stdout().strip().lines().findFirst()
                    .map(Path::of).orElseThrow(() -> new AssertionError(tool + " not found"));
            Files.createSymbolicLink(bin.resolve(tool), target);
        }
        ProcessBuilder pb = new ProcessBuilder(Cli.command("bench", "latency", "--time", "2"))
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(bin.resolve("out").toFile()).redirectError(bin.resolve("err").toFile());
        pb.environment().put("PATH", bin.toString());
        Process p = pb.start();
        try {
            assertThat(p.waitFor(LIMIT.toSeconds(), TimeUnit.SECONDS)).as("finished within %s", LIMIT).isTrue();
            List<String> out = Files.readAllLines(bin.resolve("out"));
            String err = Files.readString(bin.resolve("err"));
            assertThat(p.exitValue()).as("exit status; stdout %s; stderr:\n%s", out, err).isZero();
            assertThat(out.get(0)).contains("built-in Java ping-pong");
            assertThat(err).contains("tool: built-in Java ping-pong");
            for (String label : List.of("without bypass", "with bypass", "change %")) {
                numbers(out, label);
            }
            assertCleanedUp(p.pid());
        } finally {
            boolean interrupted = Thread.interrupted();
            if (p.isAlive()) {
                p.toHandle().destroy(); // SIGTERM: the benchmark tears down
                if (!p.waitFor(30, TimeUnit.SECONDS)) {
                    p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            }
            removeLeftovers(p.pid());
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static String nsA(long pid) {
        return "sm4j-bench-a-" + pid;
    }

    private static String nsB(long pid) {
        return "sm4j-bench-b-" + pid;
    }

    /** The network namespace names, from {@code ip netns list} ("NAME" or "NAME (id: N)"). */
    private static List<String> netnsNames() {
        return Exec.check("ip", "netns", "list").lines().map(l -> l.strip().split("\\s+")[0]).toList();
    }

    private static Optional<Path> benchCgroup(long pid) {
        Path root = Cgroup.writableHierarchy().orElseThrow();
        Path dir = root.resolve("sockmap4j-bench-" + pid);
        return Files.exists(dir) ? Optional.of(dir) : Optional.empty();
    }

    /**
     * The benchmark run by process {@code pid} left nothing: neither of its namespaces, nor its
     * cgroup. (Only its own names are checked: other benchmarks may be running on this machine.)
     */
    private static void assertCleanedUp(long pid) {
        assertThat(netnsNames()).doesNotContain(nsA(pid), nsB(pid));
        assertThat(netnsNames()).noneMatch(n -> n.startsWith("sm4j-bench-") && n.endsWith("-" + pid));
        assertThat(benchCgroup(pid)).isEmpty();
        assertThat(Path.of("/run/netns", nsA(pid))).doesNotExist();
    }

    /**
     * Runs after each test, passed or failed: stops the CLI if it still runs (SIGINT first, so
     * that it tears down by itself; then SIGKILL), and if the benchmark could not tear down,
     * removes what it left: the processes in its cgroup, its cgroup and its namespaces. Does
     * nothing after a clean run.
     */
    private static void tearDown(ChildProcess cli) throws Exception {
        boolean interrupted = Thread.interrupted(); // e.g. by @Timeout: clean up anyway
        try {
            if (cli.isAlive()) {
                Cli.signal(cli, "INT");
                cli.process().waitFor(30, TimeUnit.SECONDS);
            }
            cli.close();
            removeLeftovers(cli.pid());
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static void removeLeftovers(long pid) throws Exception {
        Optional<Path> cg = benchCgroup(pid);
        for (int i = 0; i < 50 && cg.isPresent() && Files.exists(cg.get()); i++) {
            try {
                for (String p : Files.readAllLines(cg.get().resolve("cgroup.procs"))) {
                    ProcessHandle.of(Long.parseLong(p.strip())).ifPresent(ProcessHandle::destroyForcibly);
                }
                Files.deleteIfExists(cg.get());
            } catch (java.io.IOException busy) {
                TimeUnit.MILLISECONDS.sleep(100);
            }
        }
        for (String ns : List.of(nsA(pid), nsB(pid))) {
            if (netnsNames().contains(ns)) {
                Exec.run("ip", "netns", "pids", ns).stdout().lines().map(String::strip).filter(x -> !x.isEmpty())
                        .forEach(x -> ProcessHandle.of(Long.parseLong(x)).ifPresent(ProcessHandle::destroyForcibly));
                Exec.run("ip", "netns", "del", ns);
            }
        }
    }

    /** Every line the child prints on stdout until it closes it (within {@link #LIMIT} in all). */
    private static List<String> drain(ChildProcess cli) {
        List<String> lines = new java.util.ArrayList<>();
        long deadline = System.nanoTime() + LIMIT.toNanos();
        while (true) {
            Duration left = Duration.ofNanos(Math.max(1, deadline - System.nanoTime()));
            String line;
            try {
                line = cli.readLine(left);
            } catch (AssertionError endOrTimeout) {
                if (cli.isAlive()) {
                    throw new AssertionError("bench latency did not finish within " + LIMIT + "; stdout so far "
                            + lines + "; stderr:\n" + cli.stderr(), endOrTimeout);
                }
                return lines;
            }
            lines.add(line);
        }
    }

    private static void awaitTrue(java.util.function.BooleanSupplier condition, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waiting for %s", what).isLessThan(deadline);
            TimeUnit.MILLISECONDS.sleep(100);
        }
    }
}
