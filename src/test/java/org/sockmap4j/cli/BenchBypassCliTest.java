package org.sockmap4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.Cgroup;
import org.sockmap4j.testing.ChildProcess;
import org.sockmap4j.testing.Exec;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code sockmap bench bypass --time 1 --rounds 1}, every row, end to end: the table has every
 * line with numbers (row "outside" also for the old bypass), the real servers had no socket
 * error, timeout or non-2xx response with LocalBypass, LocalBypass redirected nothing of the
 * outside peer's traffic and some of each local row's, and the bench left no namespace, cgroup
 * or process behind. No claim about the figures themselves: that is a benchmark result.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
class BenchBypassCliTest {
    /** A hang guard: the run takes about a minute here. */
    private static final Duration LIMIT = Duration.ofSeconds(150);

    /** Every (row, measure) the table must have. */
    private static final List<String[]> LINES = List.of(
            new String[] {"outside", "iperf3 Gb/s"}, new String[] {"outside", "mean us"},
            new String[] {"outside", "p99.9 us"},
            new String[] {"local", "mean us"}, new String[] {"local", "p50 us"}, new String[] {"local", "p99 us"},
            new String[] {"local", "p99.9 us"},
            new String[] {"samecpu", "mean us"}, new String[] {"samecpu", "p99.9 us"},
            new String[] {"siblings", "mean us"}, new String[] {"siblings", "p99.9 us"},
            new String[] {"nginx-1k", "req/s"}, new String[] {"nginx-1k", "p99 ms"},
            new String[] {"nginx-1m", "req/s"}, new String[] {"nginx-1m", "p99 ms"},
            new String[] {"redis-get", "req/s"}, new String[] {"redis-get", "p99 ms"},
            new String[] {"redis-set", "req/s"}, new String[] {"redis-set", "p99 ms"},
            new String[] {"httpserver", "req/s"}, new String[] {"httpserver", "p99 ms"});

    /**
     * The line of {@code row} and {@code measure}, split after them: without, LocalBypass,
     * change, old bypass, change, target[, met].
     */
    private static String[] cells(List<String> out, String row, String measure) {
        List<String[]> found = new ArrayList<>();
        for (String l : out) {
            String prefix = row + " ";
            if (l.startsWith(prefix) && l.substring(prefix.length()).strip().startsWith(measure + " ")) {
                found.add(l.substring(prefix.length()).strip().substring(measure.length()).strip().split("\\s+"));
            }
        }
        assertThat(found).as("one line '%s %s' in:\n%s", row, measure, String.join("\n", out)).hasSize(1);
        return found.get(0);
    }

    /** The counter line of {@code row} for {@code bypass}: redirect msgs, MB, passed msgs, MB, inserted, not local. */
    private static String[] counters(List<String> out, String row, String bypass) {
        List<String[]> found = out.stream().filter(l -> l.matches(java.util.regex.Pattern.quote(row) + "\\s+"
                + java.util.regex.Pattern.quote(bypass) + "\\s+\\d.*"))
                .map(l -> l.substring(row.length()).strip().substring(bypass.length()).strip().split("\\s+")).toList();
        assertThat(found).as("one counter line '%s %s' in:\n%s", row, bypass, String.join("\n", out)).hasSize(1);
        return found.get(0);
    }

    @Test
    @Timeout(170)
    void everyRowWithAndWithoutAndNothingLeftBehind() throws Exception {
        long start = System.nanoTime();
        ChildProcess cli = Cli.start("bench", "bypass", "--time", "1", "--rounds", "1");
        Set<Long> benchPids = ConcurrentHashMap.newKeySet();
        Thread watcher = Thread.ofPlatform().daemon().start(() -> watch(cli, benchPids));
        try {
            List<String> out = drain(cli);
            int exit = Cli.exitStatus(cli, LIMIT);
            watcher.join(5000);
            assertThat(exit).as("exit status; stdout %s; stderr:\n%s", out, cli.stderr()).isZero();
            assertThat(System.nanoTime() - start).isLessThan(LIMIT.toNanos());

            for (String[] l : LINES) {
                String[] c = cells(out, l[0], l[1]);
                assertThat(Double.parseDouble(c[0])).as("%s %s without", l[0], l[1]).isPositive();
                assertThat(Double.parseDouble(c[1])).as("%s %s with LocalBypass", l[0], l[1]).isPositive();
                assertThat(c[2]).as("%s %s change", l[0], l[1]).matches("[+-]\\d+\\.\\d%");
                if (l[0].equals("outside")) {
                    assertThat(Double.parseDouble(c[3])).as("%s %s with the old bypass", l[0], l[1]).isPositive();
                } else {
                    assertThat(c[3]).as("no old bypass in %s", l[0]).isEqualTo("-");
                }
            }
            for (String row : List.of("nginx-1k", "nginx-1m", "httpserver")) {
                assertThat(cells(out, row, "errors")[1]).as("%s: socket errors and timeouts with LocalBypass", row)
                        .isEqualTo("0");
            }
            for (String row : List.of("redis-get", "redis-set")) {
                assertThat(cells(out, row, "error lines")[1]).as("%s: errors with LocalBypass", row).isEqualTo("0");
            }
            // the outside peer's connection was left alone; the old bypass sent it through sk_msg
            String[] outside = counters(out, "outside", "LocalBypass");
            assertThat(Long.parseLong(outside[0])).as("outside: messages LocalBypass redirected").isZero();
            assertThat(Long.parseLong(outside[4])).as("outside: sockets LocalBypass inserted").isZero();
            assertThat(Long.parseLong(outside[5])).as("outside: sockets LocalBypass left alone").isPositive();
            assertThat(Long.parseLong(counters(out, "outside", "old bypass")[2])).as("outside: old bypass passed")
                    .isPositive();
            for (String row : List.of("local", "samecpu", "siblings", "nginx-1k", "nginx-1m", "redis-get", "redis-set",
                    "httpserver")) {
                assertThat(Long.parseLong(counters(out, row, "LocalBypass")[0])).as("%s: messages redirected", row)
                        .isPositive();
            }
            assertThat(out).noneMatch(l -> l.startsWith("!!!"));
            assertCleanedUp(cli.pid(), benchPids);
        } finally {
            tearDown(cli);
        }
    }

    /** While the CLI runs, the pids in its namespaces ({@code ip netns pids}), to check they are gone later. */
    private static void watch(ChildProcess cli, Set<Long> pids) {
        while (cli.isAlive()) {
            for (String ns : namespaces(cli.pid())) {
                Exec.Result r = Exec.run("ip", "netns", "pids", ns);
                if (r.ok()) {
                    r.stdout().lines().map(String::strip).filter(s -> s.matches("\\d+")).map(Long::parseLong)
                            .forEach(pids::add);
                }
            }
            try {
                TimeUnit.MILLISECONDS.sleep(300);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private static List<String> namespaces(long pid) {
        return List.of("sm4j-bench-a-" + pid, "sm4j-bench-b-" + pid, "sm4j-bench-c-" + pid);
    }

    private static List<String> netnsNames() {
        return Exec.check("ip", "netns", "list").lines().map(l -> l.strip().split("\\s+")[0]).toList();
    }

    private static Path benchCgroup(long pid) {
        return Cgroup.writableHierarchy().orElseThrow().resolve("sockmap4j-bench-" + pid);
    }

    private static void assertCleanedUp(long pid, Set<Long> benchPids) {
        assertThat(netnsNames()).noneMatch(n -> n.startsWith("sm4j-bench-") && n.endsWith("-" + pid));
        assertThat(benchCgroup(pid)).doesNotExist();
        assertThat(benchPids).as("processes seen in the bench's namespaces").isNotEmpty();
        for (long p : benchPids) {
            assertThat(ProcessHandle.of(p).filter(ProcessHandle::isAlive))
                    .as("process %d seen in the bench's namespaces still runs", p).isEmpty();
        }
        assertThat(Files.exists(Path.of("/run/netns", "sm4j-bench-c-" + pid))).isFalse();
    }

    /** Stops the CLI if it still runs (SIGINT, then SIGKILL) and removes what it could not. */
    private static void tearDown(ChildProcess cli) throws Exception {
        boolean interrupted = Thread.interrupted();
        try {
            if (cli.isAlive()) {
                Cli.signal(cli, "INT");
                cli.process().waitFor(30, TimeUnit.SECONDS);
            }
            cli.close();
            for (String ns : namespaces(cli.pid())) {
                if (netnsNames().contains(ns)) {
                    Exec.run("ip", "netns", "pids", ns).stdout().lines().map(String::strip).filter(x -> !x.isEmpty())
                            .forEach(x -> ProcessHandle.of(Long.parseLong(x)).ifPresent(ProcessHandle::destroyForcibly));
                    Exec.run("ip", "netns", "del", ns);
                }
            }
            Path cg = benchCgroup(cli.pid());
            if (Files.exists(cg)) {
                try (var s = Files.list(cg)) {
                    for (Path child : s.filter(Files::isDirectory).toList()) {
                        Files.writeString(child.resolve("cgroup.kill"), "1");
                        TimeUnit.MILLISECONDS.sleep(200);
                        Files.deleteIfExists(child);
                    }
                }
                Files.deleteIfExists(cg);
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static List<String> drain(ChildProcess cli) {
        List<String> lines = new ArrayList<>();
        long deadline = System.nanoTime() + LIMIT.toNanos();
        while (true) {
            Duration left = Duration.ofNanos(Math.max(1, deadline - System.nanoTime()));
            String line;
            try {
                line = cli.readLine(left);
            } catch (AssertionError endOrTimeout) {
                if (cli.isAlive()) {
                    throw new AssertionError("bench bypass did not finish within " + LIMIT + "; stdout so far "
                            + lines + "; stderr:\n" + cli.stderr(), endOrTimeout);
                }
                return lines;
            }
            lines.add(line);
        }
    }
}
