package org.sockmap4j.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.function.ToDoubleFunction;

import static org.sockmap4j.cli.BypassVariant.LOCAL;
import static org.sockmap4j.cli.BypassVariant.NONE;
import static org.sockmap4j.cli.BypassVariant.OLD;

/**
 * {@code bench bypass}: each row measured without a bypass and with {@link
 * org.sockmap4j.recipes.LocalBypass} (row "outside" also with the talk's {@link OldBypass}), in
 * one test bed ({@link BenchLab}). Servers run on CPU 0, clients on CPU 1 (row "samecpu": both
 * on CPU 0). Rows:
 * <ul>
 * <li>{@code outside}: the client in B, in the bypassed cgroup; the server in a third namespace
 * C, in no bench cgroup, reached over a second veth pair B-C. C is a namespace of its own rather
 * than a process on A's side so that the peer is like another host: nothing of it shares A's
 * stack or veth with the local rows' servers. LocalBypass must leave this connection alone (it
 * never enters the map); the old bypass puts the client's socket in its map. iperf3 (one stream)
 * and sockperf ping-pong.
 * <li>{@code local}, {@code samecpu}: the talk's sockperf ping-pong A to B, both in the cgroup.
 * <li>{@code siblings}: the server's process in cgroup x, the client's in sibling cgroup y, one
 * LocalBypass over both.
 * <li>{@code nginx} (1 KiB and 1 MiB files), {@code redis} (GET, SET), {@code httpserver} (the
 * JDK's): server in A, load generator (wrk, redis-benchmark) in B, both in the cgroup.
 * </ul>
 * The variants of a row alternate, their order reversed every other round (without, with, with,
 * without, ...), and each figure is the median over the rounds (error counts: the sum). A bypass
 * is attached afresh for each run, so its counters are that run's; they are summed per row.
 */
final class BypassBench implements AutoCloseable {
    /** The rows, in the order they run and print. */
    static final List<String> ROWS = List.of("outside", "local", "samecpu", "siblings", "nginx", "redis", "httpserver");

    private static final String SERVER_CPU = "0";
    private static final String CLIENT_CPU = "1";
    private static final int IPERF_PORT = 5201;

    /** Everything the bench measured. */
    record Result(List<BypassLine> lines, Map<String, Map<BypassVariant, BypassCounts>> counts,
            List<String> problems) {}

    private interface Run<T> {
        T run(String label) throws IOException, InterruptedException;
    }

    /** One redis-benchmark run: its figures and how many lines of its output report an error. */
    private record RedisRun(RedisResult result, long errorLines) {}

    private final BenchLab lab;
    private final RealServers servers;
    private final long seconds;
    private final int rounds;
    private final List<BypassLine> lines = new ArrayList<>();
    private final Map<String, Map<BypassVariant, BypassCounts>> counts = new LinkedHashMap<>();
    private final List<String> problems = new ArrayList<>();
    private Path cg;

    BypassBench(CountDownLatch stop, long seconds, int rounds) {
        this.lab = new BenchLab(stop);
        this.servers = new RealServers(lab);
        this.seconds = seconds;
        this.rounds = rounds;
    }

    /** The programs the chosen rows need (checked before anything is set up). */
    static List<String> tools(List<String> rows) {
        List<String> t = new ArrayList<>(List.of("ip", "ss", "taskset"));
        for (String r : rows) {
            t.addAll(switch (r) {
                case "outside" -> List.of("iperf3", "sockperf");
                case "local", "samecpu", "siblings" -> List.of("sockperf");
                case "nginx" -> List.of("nginx", "wrk");
                case "redis" -> List.of("redis-server", "redis-benchmark");
                case "httpserver" -> List.of("wrk");
                default -> List.of();
            });
        }
        return t;
    }

    Result run(List<String> rows) throws IOException, InterruptedException {
        lab.setUp(rows.contains("outside"));
        cg = lab.cgroup("bypassed");
        for (String row : ROWS) {
            if (!rows.contains(row)) {
                continue;
            }
            switch (row) {
                case "outside" -> outside();
                case "local" -> pingPongRow("local", at(lab.nsA(), cg, SERVER_CPU), at(lab.nsB(), cg, CLIENT_CPU),
                        List.of(cg), BypassTarget.atMost(81.5), BypassTarget.atMost(100));
                case "samecpu" -> pingPongRow("samecpu", at(lab.nsA(), cg, SERVER_CPU), at(lab.nsB(), cg, SERVER_CPU),
                        List.of(cg), BypassTarget.NONE, BypassTarget.NONE);
                case "siblings" -> {
                    Path x = lab.cgroup("x");
                    Path y = lab.cgroup("y");
                    pingPongRow("siblings", at(lab.nsA(), x, SERVER_CPU), at(lab.nsB(), y, CLIENT_CPU), List.of(x, y),
                            BypassTarget.atMost(81.5), BypassTarget.atMost(100));
                }
                case "nginx" -> nginx();
                case "redis" -> redis();
                case "httpserver" -> httpServer();
                default -> throw new IllegalArgumentException(row);
            }
        }
        checkCounters();
        return new Result(List.copyOf(lines), counts, List.copyOf(problems));
    }

    private static BenchLab.Place at(String ns, Path cgroup, String cpu) {
        return new BenchLab.Place(ns, cgroup, cpu);
    }

    private void outside() throws IOException, InterruptedException {
        BenchLab.Place server = at(lab.nsC(), null, SERVER_CPU);
        BenchLab.Place client = at(lab.nsB(), cg, CLIENT_CPU);
        String iperf3 = BenchTools.require("iperf3");
        BenchLab.Child srv = lab.start(server, List.of(iperf3, "-s", "-B", BenchLab.C_IP, "-p",
                Integer.toString(IPERF_PORT)));
        lab.waitForListener("iperf3", lab.nsC(), IPERF_PORT, srv);
        Map<BypassVariant, List<Double>> gbps = alternate("outside", "iperf3", List.of(cg), List.of(NONE, LOCAL, OLD),
                label -> IperfResult.gbps(lab.await(label, lab.start(client, List.of(iperf3, "-c", BenchLab.C_IP, "-p",
                        Integer.toString(IPERF_PORT), "-t", Long.toString(seconds), "-f", "g", "-P", "1")),
                        seconds, 30)));
        BenchLab.stop(srv);
        line("outside", "iperf3 Gb/s", gbps, x -> x, BypassTarget.atLeast(97));
        Map<BypassVariant, List<LatencyResult>> pp = alternate("outside", "ping-pong", List.of(cg),
                List.of(NONE, LOCAL, OLD),
                label -> LatencyBench.pingPong(lab, label, seconds, true, server, BenchLab.C_IP, client));
        line("outside", "mean us", pp, LatencyResult::mean, BypassTarget.atMost(103));
        line("outside", "p99.9 us", pp, LatencyResult::p999, BypassTarget.NONE);
    }

    private void pingPongRow(String row, BenchLab.Place server, BenchLab.Place client, List<Path> cgroups,
            BypassTarget mean, BypassTarget p999) throws IOException, InterruptedException {
        Map<BypassVariant, List<LatencyResult>> pp = alternate(row, "ping-pong", cgroups, List.of(NONE, LOCAL),
                label -> LatencyBench.pingPong(lab, label, seconds, true, server, BenchLab.A_IP, client));
        line(row, "mean us", pp, LatencyResult::mean, mean);
        line(row, "p50 us", pp, LatencyResult::p50, BypassTarget.NONE);
        line(row, "p99 us", pp, LatencyResult::p99, BypassTarget.NONE);
        line(row, "p99.9 us", pp, LatencyResult::p999, p999);
    }

    private void nginx() throws IOException, InterruptedException {
        BenchLab.Child srv = servers.nginx(at(lab.nsA(), cg, SERVER_CPU), BenchLab.A_IP);
        for (String file : List.of("1k", "1m")) {
            wrkRow("nginx-" + file, "http://" + BenchLab.A_IP + ":" + RealServers.NGINX_PORT + "/" + file);
        }
        BenchLab.stop(srv);
    }

    private void httpServer() throws IOException, InterruptedException {
        BenchLab.Child srv = servers.httpServer(at(lab.nsA(), cg, SERVER_CPU), BenchLab.A_IP);
        wrkRow("httpserver", "http://" + BenchLab.A_IP + ":" + RealServers.HTTP_PORT + "/");
        BenchLab.stop(srv);
    }

    private void wrkRow(String row, String url) throws IOException, InterruptedException {
        BenchLab.Place client = at(lab.nsB(), cg, CLIENT_CPU);
        wrk(row + " warm-up", client, url, Math.min(2, seconds)); // the server's caches (and JIT) first
        Map<BypassVariant, List<WrkResult>> r = alternate(row, "wrk", List.of(cg), List.of(NONE, LOCAL),
                label -> wrk(label, client, url, seconds));
        line(row, "req/s", r, WrkResult::requestsPerSecond, BypassTarget.NONE);
        line(row, "p99 ms", r, WrkResult::p99Ms, BypassTarget.NONE);
        sumLine(row, "errors", r, w -> w.errors(), BypassTarget.ZERO);
        for (WrkResult w : r.getOrDefault(LOCAL, List.of())) {
            if (w.errors() > 0) {
                problems.add(row + ": wrk with LocalBypass: " + w.errorDetail());
            }
        }
    }

    private WrkResult wrk(String label, BenchLab.Place client, String url, long secs)
            throws IOException, InterruptedException {
        BenchLab.Child c = lab.start(client, List.of(BenchTools.require("wrk"), "-t1", "-c16", "-d" + secs + "s",
                "--latency", "--timeout", "2s", url));
        return WrkResult.parse(lab.await(label, c, secs, 30));
    }

    private void redis() throws IOException, InterruptedException {
        BenchLab.Child srv = servers.redis(at(lab.nsA(), cg, SERVER_CPU), BenchLab.A_IP);
        BenchLab.Place client = at(lab.nsB(), cg, CLIENT_CPU);
        long requests = 20_000 * seconds;
        for (String test : List.of("get", "set")) {
            String row = "redis-" + test;
            redisBenchmark(row + " warm-up", client, test, 2_000);
            Map<BypassVariant, List<RedisRun>> r = alternate(row, "redis-benchmark", List.of(cg), List.of(NONE, LOCAL),
                    label -> redisBenchmark(label, client, test, requests));
            line(row, "req/s", r, x -> x.result().requestsPerSecond(), BypassTarget.NONE);
            line(row, "p99 ms", r, x -> x.result().p99Ms(), BypassTarget.NONE);
            sumLine(row, "error lines", r, RedisRun::errorLines, BypassTarget.ZERO);
            for (RedisRun x : r.getOrDefault(LOCAL, List.of())) {
                if (x.errorLines() > 0) {
                    problems.add(row + ": redis-benchmark with LocalBypass printed " + x.errorLines() + " error lines");
                }
            }
        }
        BenchLab.stop(srv);
    }

    private RedisRun redisBenchmark(String label, BenchLab.Place client, String test, long requests)
            throws IOException, InterruptedException {
        BenchLab.Child c = lab.start(client, List.of(BenchTools.require("redis-benchmark"), "-h", BenchLab.A_IP, "-p",
                Integer.toString(RealServers.REDIS_PORT), "-t", test, "-n", Long.toString(requests), "-c", "50", "-P",
                "1", "--csv"));
        String out = lab.await(label, c, Math.max(1, requests / 20_000), 60);
        RedisResult r = RedisResult.parse(out).get(test.toUpperCase(java.util.Locale.ROOT));
        if (r == null) {
            throw new Errors.UserError(label + ": no " + test.toUpperCase(java.util.Locale.ROOT)
                    + " result from redis-benchmark:\n" + out.strip());
        }
        return new RedisRun(r, RedisResult.errorLines(out));
    }

    /**
     * Runs {@code run} once per variant per round, the variants' order reversed every other
     * round, each with its bypass attached to {@code cgroups} (the old bypass: the first) for
     * that run only; adds the bypass's counters to the row's.
     */
    private <T> Map<BypassVariant, List<T>> alternate(String row, String what, List<Path> cgroups,
            List<BypassVariant> variants, Run<T> run) throws IOException, InterruptedException {
        Map<BypassVariant, List<T>> out = new EnumMap<>(BypassVariant.class);
        for (int r = 0; r < rounds; r++) {
            List<BypassVariant> order = new ArrayList<>(variants);
            if (r % 2 == 1) {
                Collections.reverse(order);
            }
            for (BypassVariant v : order) {
                lab.checkStop();
                String label = row + " " + what + " " + v.label() + (rounds > 1 ? " round " + (r + 1) : "");
                try (BypassVariant.Attached a = v.attach(v == OLD ? cgroups.subList(0, 1) : cgroups)) {
                    T result = run.run(label);
                    System.err.println(label + ": " + result); // each run's figures, to judge the spread
                    out.computeIfAbsent(v, k -> new ArrayList<>()).add(result);
                    if (v != NONE) {
                        counts.computeIfAbsent(row, k -> new EnumMap<>(BypassVariant.class)).merge(v, a.counts(),
                                BypassCounts::plus);
                    }
                }
            }
        }
        return out;
    }

    private <T> void line(String row, String measure, Map<BypassVariant, List<T>> r, ToDoubleFunction<T> f,
            BypassTarget target) {
        lines.add(new BypassLine(row, measure, median(r.get(NONE), f), median(r.get(LOCAL), f), median(r.get(OLD), f),
                target));
    }

    private <T> void sumLine(String row, String measure, Map<BypassVariant, List<T>> r, ToDoubleFunction<T> f,
            BypassTarget target) {
        lines.add(new BypassLine(row, measure, sum(r.get(NONE), f), sum(r.get(LOCAL), f), sum(r.get(OLD), f), target));
    }

    static <T> double median(List<T> xs, ToDoubleFunction<T> f) {
        if (xs == null || xs.isEmpty()) {
            return Double.NaN;
        }
        double[] v = xs.stream().mapToDouble(f).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static <T> double sum(List<T> xs, ToDoubleFunction<T> f) {
        return xs == null || xs.isEmpty() ? Double.NaN : xs.stream().mapToDouble(f).sum();
    }

    /** The outside peer's traffic must not be redirected; every local row's must be. */
    private void checkCounters() {
        counts.forEach((row, byVariant) -> {
            BypassCounts c = byVariant.get(LOCAL);
            if (c == null) {
                return;
            }
            if (row.equals("outside") && (c.redirectedMessages() > 0 || c.socketsInserted() > 0)) {
                problems.add("outside: LocalBypass touched the outside peer's connection (" + c.socketsInserted()
                        + " sockets inserted, " + c.redirectedMessages() + " messages redirected)");
            } else if (!row.equals("outside") && c.redirectedMessages() == 0) {
                problems.add(row + ": LocalBypass redirected nothing: its figures are not those of a bypass");
            }
        });
    }

    @Override
    public void close() {
        try {
            lab.close();
        } finally {
            servers.close();
        }
    }
}
