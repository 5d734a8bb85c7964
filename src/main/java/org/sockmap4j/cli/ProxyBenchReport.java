package org.sockmap4j.cli;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Prints a {@link ProxyBench.Result}: one table of bulk throughput and CPU per connection count,
 * one of round-trip latency per message size, and where splice and copy each win; or the same as
 * one line of JSON.
 */
final class ProxyBenchReport {
    private ProxyBenchReport() {}

    static void text(PrintStream out, ProxyBench.Result r, long bytes, int rounds) {
        out.printf(Locale.ROOT, "loopback; medians of %d rounds; bulk: %d MiB each way per run, split over the "
                + "connections, echoed back; CPU during the transfer only%n", rounds, bytes >> 20);
        out.printf(Locale.ROOT, "%-14s %6s %9s %12s %14s %11s%n", "mode", "conns", "Gb/s", "proxy CPU s",
                "machine CPU s", "CPU s/GiB");
        for (ProxyBench.Bulk b : r.bulk()) {
            out.printf(Locale.ROOT, "%-14s %6d %9.2f %12s %14.2f %11.2f%n", b.mode(), b.connections(), b.gbps(),
                    b.mode().equals("direct") ? "-" : String.format(Locale.ROOT, "%.3f", b.proxyCpuSeconds()),
                    b.machineCpuSeconds(), b.machineCpuSecondsPerGiB());
        }
        out.println();
        out.println("round trip on one connection, microseconds: mean / p99");
        Map<String, Map<Integer, ProxyBench.Ping>> byMode = pingsByMode(r.pings());
        List<Integer> sizes = r.pings().stream().map(ProxyBench.Ping::size).distinct().toList();
        StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "%-14s", "mode"));
        for (int s : sizes) {
            head.append(String.format(Locale.ROOT, " %19s", size(s)));
        }
        out.println(head);
        for (var e : byMode.entrySet()) {
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-14s", e.getKey()));
            for (int s : sizes) {
                ProxyBench.Ping p = e.getValue().get(s);
                row.append(String.format(Locale.ROOT, " %9.1f / %7.1f", p.meanUs(), p.p99Us()));
            }
            out.println(row);
        }
        out.println();
        for (String line : verdicts(r, sizes, byMode)) {
            out.println(line);
        }
        for (String w : r.warnings()) {
            out.println("WARNING: " + w);
        }
    }

    /** One line per message size and connection count: which of splice and copy wins, by how much. */
    static List<String> verdicts(ProxyBench.Result r, List<Integer> sizes, Map<String, Map<Integer, ProxyBench.Ping>> byMode) {
        List<String> lines = new java.util.ArrayList<>();
        Map<Integer, ProxyBench.Ping> copy = byMode.get("copy");
        Map<Integer, ProxyBench.Ping> splice = byMode.get("splice");
        Map<Integer, ProxyBench.Ping> direct = byMode.get("direct");
        if (copy != null && splice != null) {
            for (int s : sizes) {
                double c = copy.get(s).meanUs();
                double sp = splice.get(s).meanUs();
                String vsDirect = direct == null ? "" : String.format(Locale.ROOT, "; splice %+.0f%% vs direct",
                        100 * (sp / direct.get(s).meanUs() - 1));
                lines.add(String.format(Locale.ROOT, "round trip %-7s: %s faster (splice %.1f us, copy %.1f us)%s",
                        size(s), sp <= c ? "splice" : "copy", sp, c, vsDirect));
            }
        }
        for (ProxyBench.Bulk b : r.bulk()) {
            if (!b.mode().equals("splice")) {
                continue;
            }
            r.bulk().stream().filter(o -> o.mode().equals("copy") && o.connections() == b.connections()).findFirst()
                    .ifPresent(c -> lines.add(String.format(Locale.ROOT,
                            "bulk %2d conn%s : %s faster (splice %.2f Gb/s, copy %.2f Gb/s); machine CPU per GiB "
                                    + "splice %.2f s, copy %.2f s; proxy CPU splice %.0f%% of copy's",
                            b.connections(), b.connections() == 1 ? " " : "s", b.gbps() >= c.gbps() ? "splice" : "copy",
                            b.gbps(), c.gbps(), b.machineCpuSecondsPerGiB(), c.machineCpuSecondsPerGiB(),
                            c.proxyCpuSeconds() > 0 ? 100 * b.proxyCpuSeconds() / c.proxyCpuSeconds() : 0.0)));
        }
        return lines;
    }

    static Map<String, Map<Integer, ProxyBench.Ping>> pingsByMode(List<ProxyBench.Ping> pings) {
        Map<String, Map<Integer, ProxyBench.Ping>> m = new LinkedHashMap<>();
        for (ProxyBench.Ping p : pings) {
            m.computeIfAbsent(p.mode(), k -> new LinkedHashMap<>()).put(p.size(), p);
        }
        return m;
    }

    static String size(int bytes) {
        if (bytes >= 1 << 20 && bytes % (1 << 20) == 0) {
            return (bytes >> 20) + " MiB";
        }
        if (bytes >= 1024 && bytes % 1024 == 0) {
            return (bytes >> 10) + " KiB";
        }
        return bytes + " B";
    }

    static String json(ProxyBench.Result r, long bytes, int rounds) {
        StringBuilder sb = new StringBuilder("{\"bytes\":").append(bytes).append(",\"rounds\":").append(rounds)
                .append(",\"bulk\":[");
        for (int i = 0; i < r.bulk().size(); i++) {
            ProxyBench.Bulk b = r.bulk().get(i);
            sb.append(i == 0 ? "" : ",").append(String.format(Locale.ROOT,
                    "{\"mode\":\"%s\",\"connections\":%d,\"gbps\":%.3f,\"proxy_cpu_s\":%.2f,\"machine_cpu_s\":%.2f,"
                            + "\"machine_cpu_s_per_gib\":%.3f}",
                    b.mode(), b.connections(), b.gbps(), b.proxyCpuSeconds(), b.machineCpuSeconds(),
                    b.machineCpuSecondsPerGiB()));
        }
        sb.append("],\"round_trips\":[");
        for (int i = 0; i < r.pings().size(); i++) {
            ProxyBench.Ping p = r.pings().get(i);
            sb.append(i == 0 ? "" : ",").append(String.format(Locale.ROOT,
                    "{\"mode\":\"%s\",\"size\":%d,\"mean_us\":%.2f,\"p99_us\":%.2f}", p.mode(), p.size(), p.meanUs(),
                    p.p99Us()));
        }
        sb.append("],\"warnings\":[");
        for (int i = 0; i < r.warnings().size(); i++) {
            sb.append(i == 0 ? "" : ",").append('"').append(Json.escape(r.warnings().get(i))).append('"');
        }
        return sb.append("]}").toString();
    }
}
