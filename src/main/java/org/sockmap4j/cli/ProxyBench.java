package org.sockmap4j.cli;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * {@code bench proxy}: our proxies side by side with no proxy and with the proxies users would
 * pick instead ({@link ProxyRow}), on loopback, each proxy in its own cgroup
 * ({@link ProxyCgroups}). Per row and round, two proxy instances:
 * <ol>
 * <li>in front of the {@link EchoServer}: ping-pong round trips of one small message size
 * ({@link LoadClients#roundTrips}), then bulk echo at each connection count
 * ({@link LoadClients#bulk}, every byte checked) with the proxy's CPU time (its cgroup: all its
 * processes and threads) and the machine's during the transfers. For our splice proxies the bytes
 * the proxy reports moving must equal what the clients moved, or a warning says so;
 * <li>in front of an nginx serving a 1 KiB file: wrk with {@code Connection: close}
 * ({@link ShortConnectionLoad}, after a 1 s warm-up) for connections per second, and
 * {@link ConnectToEof} one connection at a time for connect-to-EOF times.
 * </ol>
 * A transfer that fails (data echoed back different from what was sent, a stall) is reported as
 * a failure, its figure left out, and the bench goes on with the next; the command then exits 1.
 * The rows run in turn within each round, their order reversed every other round (so a noisy
 * moment hits every row alike); the table shows each figure's median over the rounds and the sum
 * of the errors. wrk's socket errors and non-2xx answers and the failed short connections are
 * counted in the table and each described in a warning.
 */
final class ProxyBench implements AutoCloseable {
    /** The settings of one bench run. */
    record Settings(List<Integer> connections, long bytes, int size, int pings, int wrkSeconds, int wrkConnections,
            int shortConnections, int rounds) {}

    /** One row's figures in one round. */
    record Measured(double rttMeanUs, double rttP99Us, List<Double> gbps, double proxyCpuSeconds,
            double machineCpuSeconds, double gib, WrkResult wrk, ConnectToEof.Result eof) {}

    /**
     * A row of the table: medians over the rounds, errors summed.
     *
     * @param gbps            bulk echo throughput (both directions) per connection count, in order
     * @param proxyCpuPerGiB  the proxy's CPU seconds per GiB moved in the bulk runs (NaN: no proxy)
     * @param machineCpuPerGiB the whole machine's (clients and echo server included)
     * @param errors          wrk's socket errors and non-2xx answers plus failed short connections
     */
    record Row(String name, double rttMeanUs, double rttP99Us, List<Double> gbps, double proxyCpuPerGiB,
            double machineCpuPerGiB, double connsPerSecond, long errors, double eofP50Ms, double eofP99Ms) {}

    /**
     * What the bench measured; {@code notRun}: one line per row left out, saying why;
     * {@code failures}: transfers that failed (data that came back different, a stall), their
     * figures left out of the medians: the bench exits 1.
     */
    record Result(Settings settings, List<Row> rows, List<String> notRun, Map<String, String> versions,
            List<String> warnings, List<String> failures) {}

    private static final String HTTP_PATH = "/1k";
    private static final double EOF_SECONDS = 60;

    private final Settings settings;
    private final List<AutoCloseable> live = new ArrayList<>();
    private final List<String> warnings = new ArrayList<>();
    private final List<String> failures = new ArrayList<>();

    ProxyBench(Settings settings) {
        this.settings = settings;
    }

    /** Runs the rows that can run here; the others are listed in {@link Result#notRun()}. */
    Result run(List<ProxyRow> rows) throws Exception {
        BenchTools.requireAll(List.of("nginx", "wrk"), "sockmap bench proxy");
        List<ProxyRow> runnable = new ArrayList<>();
        List<String> notRun = new ArrayList<>();
        Map<String, String> versions = new LinkedHashMap<>();
        for (ProxyRow row : rows) {
            String why = row.unavailable();
            if (why != null) {
                notRun.add(row.name() + ": " + why);
                System.err.println("bench proxy: leaving out " + row.name() + ": " + why);
                continue;
            }
            runnable.add(row);
            if (row.kind() != ProxyRow.Kind.DIRECT && row.kind() != ProxyRow.Kind.SOCKMAP) {
                versions.put(row.name(), PeerTools.version(row.name()));
            }
        }
        Map<String, List<Measured>> byRow = new LinkedHashMap<>();
        runnable.forEach(r -> byRow.put(r.name(), new ArrayList<>()));
        EchoServer echo = keep(new EchoServer());
        ProxyCgroups cgroups = keep(new ProxyCgroups());
        ExternalServer http = keep(httpUpstream(cgroups));
        warmUp(echo.port());
        for (int round = 1; round <= settings.rounds(); round++) {
            System.err.println("bench proxy: round " + round + " of " + settings.rounds());
            List<ProxyRow> order = new ArrayList<>(runnable);
            if (round % 2 == 0) {
                Collections.reverse(order);
            }
            for (ProxyRow row : order) {
                String label = row.name() + (settings.rounds() > 1 ? " round " + round : "");
                byRow.get(row.name()).add(measure(row, label, echo.port(), http.port(), cgroups));
            }
        }
        List<Row> table = new ArrayList<>();
        byRow.forEach((name, ms) -> table.add(summarize(name, ms)));
        return new Result(settings, table, notRun, versions, List.copyOf(warnings), List.copyOf(failures));
    }

    /**
     * Runs the clients and the echo server (both in this JVM) once before anything is measured,
     * unrecorded: otherwise the first row of round 1 pays for their JIT compilation.
     */
    private void warmUp(int echoPort) throws Exception {
        System.err.println("bench proxy: warming up the clients and the echo server");
        LoadClients.roundTrips(loopback(echoPort), settings.size(), Math.min(settings.pings(), 20_000));
        LoadClients.bulk(loopback(echoPort), 1, Math.min(settings.bytes(), 64L << 20), () -> { }, () -> { });
    }

    private ExternalServer httpUpstream(ProxyCgroups cgroups) throws IOException, InterruptedException {
        java.nio.file.Path dir = ExternalServer.tempDir("nginx-upstream");
        ProxyCgroups.Member cg = cgroups.create("nginx-upstream");
        try {
            int port = ExternalServer.freePort();
            java.nio.file.Path conf = RealServers.nginxSite(dir, "127.0.0.1:" + port);
            return new ExternalServer("nginx (the HTTP upstream)", PeerConfigs.nginxCommand(BenchTools.require("nginx"),
                    dir, conf), port, dir, cg);
        } catch (IOException | RuntimeException e) {
            ExternalServer.delete(dir);
            cg.close();
            throw e;
        }
    }

    private Measured measure(ProxyRow row, String label, int echoPort, int httpPort, ProxyCgroups cgroups)
            throws Exception {
        System.err.println("bench proxy:   " + label + " ...");
        ProxyCgroups.Member cg = keep(cgroups.create(row.name()));
        RunningProxy proxy = keep(row.start(echoPort, cg));
        double[] rtt = new double[2];
        List<Double> gbps = new ArrayList<>();
        double[] cpu = new double[3]; // proxy s, machine s, GiB
        try {
            InetSocketAddress target = loopback(proxy == null ? echoPort : proxy.port());
            int failed = 0;
            long moved = 0;
            try {
                LoadClients.RoundTrips r = LoadClients.roundTrips(target, settings.size(), settings.pings());
                rtt[0] = r.meanUs();
                rtt[1] = r.p99Us();
                moved += 2 * r.bytesEachWay();
            } catch (IOException | Errors.UserError e) {
                rtt[0] = rtt[1] = Double.NaN;
                failed++;
                fail(label + ", round trips: " + e.getMessage());
            }
            for (int n : settings.connections()) {
                long each = Math.max(1, settings.bytes() / n);
                long[] at = new long[4];
                double secs;
                try {
                    secs = LoadClients.bulk(target, n, each, () -> {
                        at[0] = proxy == null ? 0 : cg.cpuNanos();
                        at[1] = MachineCpu.busyTicks();
                    }, () -> {
                        at[2] = proxy == null ? 0 : cg.cpuNanos();
                        at[3] = MachineCpu.busyTicks();
                    });
                } catch (IOException | Errors.UserError e) {
                    gbps.add(Double.NaN);
                    failed++;
                    fail(label + ", bulk with " + n + " connection" + (n == 1 ? "" : "s") + " of " + each
                            + " bytes each way: " + e.getMessage());
                    continue;
                }
                gbps.add(2.0 * n * each * 8 / secs / 1e9);
                cpu[0] += (at[2] - at[0]) / 1e9;
                cpu[1] += (at[3] - at[1]) / 100.0;
                cpu[2] += 2.0 * n * each / (1L << 30);
                moved += 2L * n * (each + 1);
            }
            if (proxy != null) {
                long reported = proxy.stop();
                if (row.splices() && failed == 0 && reported != moved) {
                    warn(label + ": the proxy counted " + reported + " bytes, the clients moved " + moved
                            + " (every byte arrived intact: the count is off)");
                }
            }
        } finally {
            release(proxy);
            release(cg);
        }
        System.err.printf(java.util.Locale.ROOT, "bench proxy:   %s: round trip %.1f / %.1f us, Gb/s %s, proxy CPU %.3f s,"
                + " machine CPU %.2f s for %.2f GiB%n", label, rtt[0], rtt[1], gbps.stream().map(g -> ProxyBenchReport.num(
                        g, 2)).toList(), cpu[0], cpu[1], cpu[2]);
        Short s = shortConnections(row, label, httpPort, cgroups);
        return new Measured(rtt[0], rtt[1], gbps, cpu[0], cpu[1], cpu[2], s.wrk(), s.eof());
    }

    /** The short-connection figures of one row and round. */
    private record Short(WrkResult wrk, ConnectToEof.Result eof) {}

    private Short shortConnections(ProxyRow row, String label, int httpPort, ProxyCgroups cgroups) throws Exception {
        ProxyCgroups.Member cg = keep(cgroups.create(row.name() + "-http"));
        RunningProxy proxy = keep(row.start(httpPort, cg));
        try {
            int port = proxy == null ? httpPort : proxy.port();
            String url = "http://127.0.0.1:" + port + HTTP_PATH;
            WrkResult warm = ShortConnectionLoad.run(url, settings.wrkConnections(), 1);
            if (warm.errors() > 0) {
                warn(label + ": wrk warm-up (1 s): " + warm.errorDetail());
            }
            WrkResult wrk = ShortConnectionLoad.run(url, settings.wrkConnections(), settings.wrkSeconds());
            if (wrk.errors() > 0) {
                warn(label + ": wrk: " + wrk.errorDetail());
            }
            ConnectToEof.Result eof = ConnectToEof.run(loopback(port), HTTP_PATH, RealServers.SMALL,
                    settings.shortConnections(), EOF_SECONDS);
            if (eof.failures() > 0) {
                warn(label + ": " + eof.failures() + " of " + (eof.done() + eof.failures())
                        + " short connections failed; the first: " + eof.firstFailure());
            }
            if (eof.done() + eof.failures() < settings.shortConnections()) {
                warn(label + ": only " + (eof.done() + eof.failures()) + " of " + settings.shortConnections()
                        + " short connections in " + (int) EOF_SECONDS + " s");
            }
            if (proxy != null) {
                proxy.stop();
            }
            System.err.printf(java.util.Locale.ROOT, "bench proxy:   %s: %.0f conn/s (wrk errors %d), connect to EOF "
                    + "p50 %.3f ms p99 %.3f ms%n", label, wrk.requestsPerSecond(), wrk.errors(), eof.p50Ms(),
                    eof.p99Ms());
            return new Short(wrk, eof);
        } finally {
            release(proxy);
            release(cg);
        }
    }

    private static InetSocketAddress loopback(int port) {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    }

    private Row summarize(String name, List<Measured> ms) {
        List<Double> gbps = new ArrayList<>();
        for (int i = 0; i < ms.get(0).gbps().size(); i++) {
            int k = i;
            gbps.add(median(ms, m -> m.gbps().get(k)));
        }
        boolean direct = name.equals("direct");
        long errors = ms.stream().mapToLong(m -> m.wrk().errors() + m.eof().failures()).sum();
        return new Row(name, median(ms, Measured::rttMeanUs), median(ms, Measured::rttP99Us), gbps,
                direct ? Double.NaN : median(ms, m -> m.proxyCpuSeconds() / m.gib()),
                median(ms, m -> m.machineCpuSeconds() / m.gib()), median(ms, m -> m.wrk().requestsPerSecond()),
                errors, median(ms, m -> m.eof().p50Ms()), median(ms, m -> m.eof().p99Ms()));
    }

    /** The median of {@code f} over {@code xs}, NaN values left out (NaN if nothing is left). */
    static <T> double median(List<T> xs, ToDoubleFunction<T> f) {
        double[] v = xs.stream().mapToDouble(f).filter(d -> !Double.isNaN(d)).sorted().toArray();
        if (v.length == 0) {
            return Double.NaN;
        }
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private void warn(String w) {
        System.err.println("bench proxy: WARNING: " + w);
        synchronized (warnings) {
            warnings.add(w);
        }
    }

    private void fail(String f) {
        System.err.println("bench proxy: FAILED: " + f);
        failures.add(f);
    }

    private <T extends AutoCloseable> T keep(T resource) {
        if (resource != null) {
            synchronized (live) {
                live.add(resource);
            }
        }
        return resource;
    }

    private void release(AutoCloseable resource) throws Exception {
        if (resource == null) {
            return;
        }
        synchronized (live) {
            live.remove(resource);
        }
        resource.close();
    }

    /**
     * Stops and removes whatever is still running or left behind, newest first; also run by a
     * shutdown hook when the bench is interrupted.
     */
    @Override
    public void close() {
        List<AutoCloseable> all;
        synchronized (live) {
            all = new ArrayList<>(live);
            live.clear();
        }
        Collections.reverse(all);
        for (AutoCloseable c : all) {
            try {
                c.close();
            } catch (Exception e) {
                System.err.println("warning: cleaning up: " + e);
            }
        }
    }
}
