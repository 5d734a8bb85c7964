package org.sockmap4j.cli;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Prints a {@link ProxyBench.Result}: what was measured how, one table with a row per proxy, the
 * rows left out and why, and the warnings; or the same as one line of JSON.
 */
final class ProxyBenchReport {
    private ProxyBenchReport() {}

    static void text(PrintStream out, ProxyBench.Result r) {
        for (String line : legend(r)) {
            out.println(line);
        }
        out.println();
        for (String line : table(r)) {
            out.println(line);
        }
        for (String n : r.notRun()) {
            out.println("not run: " + n);
        }
        for (String w : r.warnings()) {
            out.println("WARNING: " + w);
        }
        for (String f : r.failures()) {
            out.println("FAILED: " + f);
        }
    }

    /** What each column is, and the peers' versions and setups. */
    static List<String> legend(ProxyBench.Result r) {
        ProxyBench.Settings s = r.settings();
        List<String> l = new java.util.ArrayList<>();
        l.add(String.format(Locale.ROOT, "TCP proxies on loopback; medians of %d round%s, rows in turn within each",
                s.rounds(), s.rounds() == 1 ? "" : "s"));
        l.add(String.format(Locale.ROOT, "  round trip: %s ping-pong on one connection, %d times, microseconds",
                size(s.size()), s.pings()));
        l.add(String.format(Locale.ROOT, "  bulk: echo through the proxy (Java clients, every byte checked), %d MiB each"
                + " way per run split over the connections; Gb/s both directions together", s.bytes() >> 20));
        l.add("  CPU s/GiB: during the bulk runs, per GiB moved (both directions); proxy: its cgroup (all its processes,"
                + " threads and children); machine: every CPU (clients and echo server too; softirq included)");
        l.add("    (a splice proxy's bytes move in softirq and kernel workers, outside its cgroup: compare machine)");
        l.add(String.format(Locale.ROOT, "  conn/s: wrk -t1 -c%d -H 'Connection: close' for a 1 KiB file from nginx, "
                + "%d s; errs: wrk's socket errors and non-2xx answers, and failed connect->EOF connections, summed",
                s.wrkConnections(), s.wrkSeconds()));
        l.add(String.format(Locale.ROOT, "  connect->EOF: %d connections one at a time: connect, GET 1 KiB from nginx,"
                + " read to EOF; milliseconds", s.shortConnections()));
        for (Map.Entry<String, String> v : r.versions().entrySet()) {
            l.add("  " + v.getKey() + ": " + v.getValue() + ", " + setup(v.getKey()));
        }
        return l;
    }

    private static String setup(String peer) {
        return switch (peer) {
            case "haproxy" -> "mode tcp, option splice-auto, default threads";
            case "nginx" -> "stream proxy_pass, worker_processes auto";
            case "socat" -> "TCP-LISTEN:PORT,fork,reuseaddr TCP:127.0.0.1:UPSTREAM";
            default -> "";
        };
    }

    /** The table: two header lines, then a line per row. */
    static List<String> table(ProxyBench.Result r) {
        List<Integer> conns = r.settings().connections();
        StringBuilder groups = new StringBuilder(String.format(Locale.ROOT, "%-14s %15s", "", "round trip us"));
        StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "%-14s %7s %7s", "mode", "mean", "p99"));
        groups.append(String.format(Locale.ROOT, " %-" + (7 * conns.size() - 1) + "s",
                conns.size() > 1 ? "bulk Gb/s by conns" : "bulk Gb/s"));
        for (int c : conns) {
            head.append(String.format(Locale.ROOT, " %6s", c + "c"));
        }
        groups.append(String.format(Locale.ROOT, " %15s %14s %15s", "CPU s/GiB", "short conns", "connect->EOF ms"));
        head.append(String.format(Locale.ROOT, " %7s %7s %8s %5s %7s %7s", "proxy", "machine", "conn/s", "errs", "p50",
                "p99"));
        List<String> lines = new java.util.ArrayList<>(List.of(groups.toString(), head.toString()));
        for (ProxyBench.Row row : r.rows()) {
            StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%-14s %7s %7s", row.name(),
                    num(row.rttMeanUs(), 1), num(row.rttP99Us(), 1)));
            for (double g : row.gbps()) {
                b.append(String.format(Locale.ROOT, " %6s", num(g, 2)));
            }
            b.append(String.format(Locale.ROOT, " %7s %7s %8s %5d %7s %7s", num(row.proxyCpuPerGiB(), 3),
                    num(row.machineCpuPerGiB(), 2), num(row.connsPerSecond(), 0), row.errors(), num(row.eofP50Ms(), 3),
                    num(row.eofP99Ms(), 3)));
            lines.add(b.toString());
        }
        return lines;
    }

    /** {@code v} with {@code decimals}, or "-" for NaN (no proxy, nothing measured). */
    static String num(double v, int decimals) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%." + decimals + "f", v);
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

    static String json(ProxyBench.Result r) {
        ProxyBench.Settings s = r.settings();
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
                "{\"rounds\":%d,\"bytes\":%d,\"size\":%d,\"pings\":%d,\"connections\":%s,\"wrk_seconds\":%d,"
                        + "\"wrk_connections\":%d,\"short_connections\":%d,\"rows\":[",
                s.rounds(), s.bytes(), s.size(), s.pings(), s.connections().toString().replace(" ", ""),
                s.wrkSeconds(), s.wrkConnections(), s.shortConnections()));
        for (int i = 0; i < r.rows().size(); i++) {
            ProxyBench.Row row = r.rows().get(i);
            StringBuilder g = new StringBuilder("[");
            for (int k = 0; k < row.gbps().size(); k++) {
                g.append(k == 0 ? "" : ",").append(jnum(row.gbps().get(k)));
            }
            sb.append(i == 0 ? "" : ",").append("{\"mode\":\"").append(Json.escape(row.name())).append("\"")
                    .append(",\"rtt_mean_us\":").append(jnum(row.rttMeanUs()))
                    .append(",\"rtt_p99_us\":").append(jnum(row.rttP99Us()))
                    .append(",\"gbps\":").append(g.append(']'))
                    .append(",\"proxy_cpu_s_per_gib\":").append(jnum(row.proxyCpuPerGiB()))
                    .append(",\"machine_cpu_s_per_gib\":").append(jnum(row.machineCpuPerGiB()))
                    .append(",\"conns_per_s\":").append(jnum(row.connsPerSecond()))
                    .append(",\"errors\":").append(row.errors())
                    .append(",\"connect_eof_p50_ms\":").append(jnum(row.eofP50Ms()))
                    .append(",\"connect_eof_p99_ms\":").append(jnum(row.eofP99Ms())).append('}');
        }
        sb.append("],\"not_run\":").append(strings(r.notRun())).append(",\"versions\":{");
        int i = 0;
        for (Map.Entry<String, String> v : r.versions().entrySet()) {
            sb.append(i++ == 0 ? "" : ",").append('"').append(Json.escape(v.getKey())).append("\":\"")
                    .append(Json.escape(v.getValue())).append('"');
        }
        return sb.append("},\"warnings\":").append(strings(r.warnings())).append(",\"failures\":")
                .append(strings(r.failures())).append('}').toString();
    }

    private static String jnum(double v) {
        return Double.isNaN(v) || Double.isInfinite(v) ? "null" : String.format(Locale.ROOT, "%.4f", v);
    }

    private static String strings(List<String> xs) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < xs.size(); i++) {
            sb.append(i == 0 ? "" : ",").append('"').append(Json.escape(xs.get(i))).append('"');
        }
        return sb.append(']').toString();
    }
}
