package org.sockmap4j.cli;

import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import org.sockmap4j.Cgroup;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.recipes.LocalBypass;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code sockmap bench}: measurements. */
@Command(name = "bench", description = "Measure.", subcommands = {BenchCommand.Latency.class, BenchCommand.Proxy.class,
        BenchBypassCommand.class})
final class BenchCommand {
    @Command(name = "latency", description = "The SREcon23 experiment: TCP ping-pong between two network namespaces, "
            + "without and then with the SOCKMAP bypass; prints one table.")
    static final class Latency implements Callable<Integer> {
        // a leading space in each column: a value wider than its column (a 1,001,840 us max on a
        // stalled run) widens the row but still parses as separate numbers
        static final String VALUE = " %9.2f";
        static final String LAST_VALUE = " %11.0f";
        static final String CHANGE = " %+9.1f";
        static final String LAST_CHANGE = " %+11.1f";

        @Option(names = "--time", defaultValue = "10", paramLabel = "SECONDS",
                description = "Length of each timed run (default ${DEFAULT-VALUE}).")
        long time;

        @Option(names = "--json", description = "Print JSON.")
        boolean json;

        @Option(names = "--cpus", defaultValue = "0,0", paramLabel = "SERVER,CLIENT",
                description = "CPUs the server and client are pinned to in both runs (taskset), or none "
                        + "(default ${DEFAULT-VALUE}).")
        String cpus;

        @Option(names = "--verbose", description = "Print stack traces on errors.")
        boolean verbose;

        @Override
        public Integer call() throws Exception {
            if (time < 1 || time > 3600) {
                throw new Errors.UserError("--time must be 1..3600 seconds");
            }
            Privileges.require("sockmap bench latency");
            KernelFeatures k = KernelFeatures.probe();
            k.require(KernelFeatures.Feature.SOCKHASH);
            k.require(KernelFeatures.Feature.SK_MSG);
            k.require(KernelFeatures.Feature.SOCK_OPS);
            CountDownLatch stop = Runner.stopOnSignals();
            LatencyResult before;
            LatencyResult after;
            String tool;
            try (LatencyBench bench = new LatencyBench(stop, cpus)) {
                tool = bench.tool();
                System.err.println("setting up namespaces A and B (veth 10.0.0.1 <-> 10.0.0.2) and a cgroup; tool: "
                        + tool);
                bench.setUp();
                before = bench.measure("without bypass", time);
                try (Cgroup cg = Cgroup.open(bench.cgroup()); LocalBypass bypass = bench.bypass(cg)) {
                    after = bench.measure("with bypass", time);
                    if (bypass.stats().redirectedMessages() == 0) {
                        throw new Errors.UserError("the bypass redirected nothing: the measurement is not valid");
                    }
                }
            }
            print(tool, before, after);
            return 0;
        }

        private void print(String tool, LatencyResult before, LatencyResult after) {
            String[] cols = {"mean", "p50", "p99", "p99.9", "max", "msgs/s"};
            double[] b = before.values();
            double[] a = after.values();
            if (json) {
                StringBuilder sb = new StringBuilder("{\"tool\":\"").append(Json.escape(tool))
                        .append("\",\"unit\":\"us one-way (RTT/2)\",\"seconds\":").append(time);
                for (String[] row : new String[][] {{"without_bypass", "b"}, {"with_bypass", "a"}, {"change_percent", "c"}}) {
                    sb.append(",\"").append(row[0]).append("\":{");
                    for (int i = 0; i < cols.length; i++) {
                        double v = row[1].equals("b") ? b[i] : row[1].equals("a") ? a[i] : change(b[i], a[i]);
                        sb.append(i == 0 ? "" : ",").append('"').append(cols[i].replace(".", "")).append("\":")
                                .append(Double.isNaN(v) ? "null" : String.format(Locale.ROOT, "%.3f", v));
                    }
                    sb.append('}');
                }
                System.out.println(sb.append('}'));
                return;
            }
            System.out.printf("TCP ping-pong netns A <-> B over veth, %d s per run, %s; latency in us one-way (RTT/2)%n",
                    time, tool);
            System.out.printf(Locale.ROOT, "%-16s%10s%10s%10s%10s%10s%12s%n", "", cols[0], cols[1], cols[2], cols[3],
                    cols[4], cols[5]);
            row("without bypass", b, VALUE, LAST_VALUE);
            row("with bypass", a, VALUE, LAST_VALUE);
            double[] c = new double[cols.length];
            for (int i = 0; i < c.length; i++) {
                c[i] = change(b[i], a[i]);
            }
            row("change %", c, CHANGE, LAST_CHANGE);
        }

        private static void row(String label, double[] v, String fmt, String lastFmt) {
            System.out.println(formatRow(label, v, fmt, lastFmt));
        }

        /** One table row: the label, then each value in {@code fmt}, the last in {@code lastFmt}. */
        static String formatRow(String label, double[] v, String fmt, String lastFmt) {
            StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-16s", label));
            for (int i = 0; i < v.length; i++) {
                sb.append(String.format(Locale.ROOT, i == v.length - 1 ? lastFmt : fmt, v[i]));
            }
            return sb.toString();
        }

        private static double change(double before, double after) {
            return before == 0 ? Double.NaN : (after - before) * 100.0 / before;
        }
    }

    @Command(name = "proxy", description = "TCP proxies side by side on loopback, one table: no proxy, ours (copy, "
            + "splice, splice --policy always) and the peers users would pick instead (HAProxy, nginx stream, socat, "
            + "each where installed): round-trip latency, bulk echo throughput per connection count, proxy and machine "
            + "CPU per GiB, short connections per second (wrk, Connection: close) and connect-to-EOF times.")
    static final class Proxy implements Callable<Integer> {
        @Option(names = "--connections", defaultValue = "1,8,64", split = ",", description = "Connection counts "
                + "for the bulk runs (default ${DEFAULT-VALUE}).")
        List<Integer> connections;

        @Option(names = "--bytes", defaultValue = "268435456", description = "Bytes each way per bulk run, split "
                + "over the connections (default ${DEFAULT-VALUE}, 256 MiB).")
        long bytes;

        @Option(names = "--size", defaultValue = "64", paramLabel = "BYTES", description = "Message size of the "
                + "round trips (default ${DEFAULT-VALUE}).")
        int size;

        @Option(names = "--pings", defaultValue = "20000", description = "Round trips per row and round, a tenth "
                + "more first to warm up (default ${DEFAULT-VALUE}).")
        int pings;

        @Option(names = "--wrk-seconds", defaultValue = "5", paramLabel = "SECONDS", description = "Length of the "
                + "wrk run (Connection: close) per row and round, after a 1 s warm-up (default ${DEFAULT-VALUE}).")
        int wrkSeconds;

        @Option(names = "--wrk-connections", defaultValue = "8", description = "wrk's concurrent connections "
                + "(default ${DEFAULT-VALUE}).")
        int wrkConnections;

        @Option(names = "--short-connections", defaultValue = "500", description = "Connect-to-EOF connections, one at "
                + "a time, per row and round; at most 60 s (default ${DEFAULT-VALUE}).")
        int shortConnections;

        @Option(names = "--sockbuf", defaultValue = "0", paramLabel = "BYTES", description = "SO_SNDBUF/SO_RCVBUF "
                + "of our proxies' sockets (default: autotuning).")
        int sockbuf;

        @Option(names = "--modes", split = ",", description = "Rows to run, of direct, copy, splice, splice-auto, "
                + "splice-parser, haproxy, nginx, socat (default: all but splice-parser; a row that cannot run here, "
                + "e.g. a peer not installed, is left out with a line saying why).")
        List<String> modes;

        @Option(names = "--rounds", defaultValue = "3", description = "Rounds, rows in turn within each; the "
                + "table shows medians (default ${DEFAULT-VALUE}).")
        int rounds;

        @Option(names = "--json", description = "Print JSON.")
        boolean json;

        @Option(names = "--verbose", description = "Print stack traces on errors.")
        boolean verbose;

        @Override
        public Integer call() throws Exception {
            check(rounds >= 1 && rounds <= 99, "--rounds must be 1..99");
            for (int c : connections) {
                check(c >= 1 && c <= 4096, "--connections must be 1..4096, got " + c);
            }
            check(size >= 1 && size <= (64 << 20), "--size must be 1..67108864");
            long most = connections.stream().mapToLong(Integer::longValue).max().orElse(1);
            check(bytes >= most && bytes <= (64L << 30), "--bytes must be at least one per connection and at most "
                    + "64 GiB");
            check(pings >= 100 && pings <= 10_000_000, "--pings must be 100..10000000");
            check(wrkSeconds >= 1 && wrkSeconds <= 600, "--wrk-seconds must be 1..600");
            check(wrkConnections >= 1 && wrkConnections <= 1000, "--wrk-connections must be 1..1000");
            check(shortConnections >= 1 && shortConnections <= 100_000, "--short-connections must be 1..100000");
            check(sockbuf >= 0 && sockbuf <= (1 << 30), "--sockbuf must be 0..1073741824");
            List<ProxyRow> rows = new java.util.ArrayList<>();
            for (String m : modes == null ? ProxyRow.DEFAULT : modes) {
                rows.add(ProxyRow.named(m, sockbuf));
            }
            Privileges.require("sockmap bench proxy");
            ProxyBench.Settings settings = new ProxyBench.Settings(List.copyOf(connections), bytes, size, pings,
                    wrkSeconds, wrkConnections, shortConnections, rounds);
            ProxyBench.Result r;
            try (ProxyBench bench = new ProxyBench(settings)) {
                Thread hook = new Thread(bench::close, "bench-proxy-cleanup");
                Runtime.getRuntime().addShutdownHook(hook); // SIGINT/SIGTERM: stop every proxy and server
                try {
                    r = bench.run(rows);
                } finally {
                    try {
                        Runtime.getRuntime().removeShutdownHook(hook);
                    } catch (IllegalStateException shuttingDown) {
                        // the hook runs now
                    }
                }
            }
            if (json) {
                System.out.println(ProxyBenchReport.json(r));
            } else {
                ProxyBenchReport.text(System.out, r);
            }
            if (!r.failures().isEmpty()) {
                System.err.println("sockmap bench proxy: " + r.failures().size() + " transfer(s) failed; the first: "
                        + r.failures().get(0));
                return Main.ERROR;
            }
            return 0;
        }

        private static void check(boolean ok, String message) {
            if (!ok) {
                throw new Errors.UserError(message);
            }
        }
    }
}
