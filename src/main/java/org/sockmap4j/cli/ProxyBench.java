package org.sockmap4j.cli;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code bench proxy}: the same loopback transfers direct, through a {@code copy} proxy and
 * through {@code splice} proxies (skb_verdict, and stream_parser + stream_verdict), each proxy a
 * child process: bulk echo throughput at several connection counts with the proxy's and the
 * machine's CPU time, and round-trip latency at several message sizes. For splice proxies the
 * bytes the proxy reports moving must equal what the clients moved, or the bench fails.
 */
final class ProxyBench {
    /** A proxy configuration: its name in the tables and its {@code sockmap proxy} arguments (null: none). */
    record Mode(String name, List<String> proxyArgs) {
        static List<Mode> all(int sockbuf) {
            List<String> buf = sockbuf > 0 ? List.of("--sockbuf", Integer.toString(sockbuf)) : List.of();
            List<Mode> modes = new ArrayList<>();
            modes.add(new Mode("direct", null));
            modes.add(new Mode("copy", concat(List.of("--mode", "copy"), buf)));
            modes.add(new Mode("splice", concat(List.of("--mode", "splice", "--framing", "skb_verdict"), buf)));
            modes.add(new Mode("splice-parser", concat(List.of("--mode", "splice", "--framing", "stream_parser"), buf)));
            return modes;
        }

        private static List<String> concat(List<String> a, List<String> b) {
            List<String> l = new ArrayList<>(a);
            l.addAll(b);
            return l;
        }
    }

    /** Bulk echo at one connection count. */
    record Bulk(String mode, int connections, double gbps, double proxyCpuSeconds, double machineCpuSeconds,
            double machineCpuSecondsPerGiB) {}

    /** Round trips at one message size. */
    record Ping(String mode, int size, double meanUs, double p99Us) {}

    /** What the bench measured, and what did not add up. */
    record Result(List<Bulk> bulk, List<Ping> pings, List<String> warnings) {}

    private ProxyBench() {}

    /**
     * Runs everything {@code rounds} times, the modes in turn within each round (so a noisy moment
     * hits every mode alike), and reports each figure's median over the rounds.
     */
    static Result run(List<Mode> modes, List<Integer> connectionCounts, long bytes, List<Integer> sizes, int pings,
            int rounds) throws Exception {
        List<Result> all = new ArrayList<>();
        for (int i = 0; i < rounds; i++) {
            System.err.println("bench proxy: round " + (i + 1) + " of " + rounds);
            all.add(run(modes, connectionCounts, bytes, sizes, pings));
        }
        List<Bulk> bulk = new ArrayList<>();
        for (int i = 0; i < all.get(0).bulk().size(); i++) {
            int k = i;
            List<Bulk> b = all.stream().map(r -> r.bulk().get(k)).toList();
            bulk.add(new Bulk(b.get(0).mode(), b.get(0).connections(), median(b, Bulk::gbps),
                    median(b, Bulk::proxyCpuSeconds), median(b, Bulk::machineCpuSeconds),
                    median(b, Bulk::machineCpuSecondsPerGiB)));
        }
        List<Ping> lat = new ArrayList<>();
        for (int i = 0; i < all.get(0).pings().size(); i++) {
            int k = i;
            List<Ping> p = all.stream().map(r -> r.pings().get(k)).toList();
            lat.add(new Ping(p.get(0).mode(), p.get(0).size(), median(p, Ping::meanUs), median(p, Ping::p99Us)));
        }
        List<String> warnings = all.stream().flatMap(r -> r.warnings().stream()).toList();
        return new Result(bulk, lat, warnings);
    }

    private static <T> double median(List<T> xs, java.util.function.ToDoubleFunction<T> f) {
        double[] v = xs.stream().mapToDouble(f).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    /** One round: {@code bytes} in all each way per bulk run, split over the connections. */
    static Result run(List<Mode> modes, List<Integer> connectionCounts, long bytes, List<Integer> sizes, int pings)
            throws Exception {
        List<Bulk> bulk = new ArrayList<>();
        List<Ping> lat = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        try (EchoServer echo = new EchoServer()) {
            for (Mode mode : modes) {
                System.err.println("bench proxy:   " + mode.name() + " ...");
                ProxyProcess proxy = mode.proxyArgs() == null ? null : new ProxyProcess(echo.port(), mode.proxyArgs());
                try {
                    InetSocketAddress target = new InetSocketAddress(InetAddress.getLoopbackAddress(),
                            proxy == null ? echo.port() : proxy.port());
                    long moved = 0;
                    for (int size : sizes) {
                        LoadClients.RoundTrips r = LoadClients.roundTrips(target, size, pingsFor(size, pings));
                        lat.add(new Ping(mode.name(), size, r.meanUs(), r.p99Us()));
                        moved += 2 * r.bytesEachWay();
                    }
                    for (int n : connectionCounts) {
                        long each = Math.max(1, bytes / n);
                        long[] at = new long[4];
                        ProxyProcess p = proxy;
                        double secs = LoadClients.bulk(target, n, each, () -> {
                            at[0] = p == null ? 0 : p.cpuNanos();
                            at[1] = MachineCpu.busyTicks();
                        }, () -> {
                            at[2] = p == null ? 0 : p.cpuNanos();
                            at[3] = MachineCpu.busyTicks();
                        });
                        double machine = (at[3] - at[1]) / 100.0;
                        double own = (at[2] - at[0]) / 1e9;
                        double gib = 2.0 * n * each / (1L << 30);
                        bulk.add(new Bulk(mode.name(), n, 2.0 * n * each * 8 / secs / 1e9, own, machine, machine / gib));
                        moved += 2L * n * (each + 1);
                    }
                    if (proxy != null) {
                        long reported = proxy.stop();
                        if (mode.name().startsWith("splice") && reported != moved) {
                            warnings.add("the " + mode.name() + " proxy counted " + reported + " bytes, the clients "
                                    + "moved " + moved + " (every byte arrived intact: the count is off)");
                        }
                    }
                } finally {
                    if (proxy != null) {
                        proxy.close();
                    }
                }
            }
        }
        return new Result(bulk, lat, warnings);
    }

    /** Fewer round trips for bigger messages: {@code pings} for 64 B, at least 200. */
    static int pingsFor(int size, int pings) {
        return (int) Math.max(Math.min(pings, 200), (long) pings * 64 / Math.max(64, size));
    }
}
