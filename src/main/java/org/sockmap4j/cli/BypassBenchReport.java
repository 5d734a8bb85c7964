package org.sockmap4j.cli;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Prints a {@link BypassBench.Result}: one table (each row's figures without a bypass, with
 * LocalBypass and, for row "outside", with the old bypass, the changes and LocalBypass's target),
 * the bypasses' counters per row, and every problem in a block of its own; or all of it as JSON.
 */
final class BypassBenchReport {
    private static final String LINE = "%-11s %-13s %11s %12s %8s %11s %8s %8s %-6s%n";
    private static final String COUNTS = "%-11s %-12s %14s %14s %14s %14s %9s %9s%n";

    private BypassBenchReport() {}

    static void text(PrintStream out, BypassBench.Result r, long seconds, int rounds) {
        out.printf("bench bypass: %d s per run, %d round%s (variants alternate, order reversed each round), medians; "
                + "servers on CPU 0, clients on CPU 1%n", seconds, rounds, rounds == 1 ? "" : "s");
        out.println("  outside: client in netns B (bypassed cgroup) -> server in netns C (no bench cgroup, 2nd veth); "
                + "local: sockperf A<->B in the cgroup; samecpu: same, both on CPU 0; siblings: server in cgroup x, "
                + "client in sibling y; nginx/redis/httpserver: server in A, load in B, both in the cgroup");
        out.printf(Locale.ROOT, LINE, "row", "measure", "without", "LocalBypass", "change", "old bypass", "change",
                "target", "met");
        for (BypassLine l : r.lines()) {
            boolean count = l.measure().contains("error");
            Boolean met = l.met();
            out.printf(Locale.ROOT, LINE, l.row(), l.measure(), num(l.without(), count), num(l.local(), count),
                    pct(l.localChange()), num(l.old(), count), pct(l.oldChange()), l.target().text(),
                    met == null ? "" : met ? "ok" : "MISSED");
        }
        out.println();
        out.println("bypass counters during the with-bypass runs (summed over the rounds; -: not counted by the old "
                + "bypass):");
        out.printf(Locale.ROOT, COUNTS, "row", "bypass", "redirect msgs", "redirect MB", "passed msgs", "passed MB",
                "inserted", "not local");
        r.counts().forEach((row, byVariant) -> byVariant.forEach((v, c) -> out.printf(Locale.ROOT, COUNTS, row,
                v.label(), c.redirectedMessages(), mb(c.redirectedBytes()), c.passedMessages(), mb(c.passedBytes()),
                c.socketsInserted() < 0 ? "-" : Long.toString(c.socketsInserted()),
                c.socketsNotLocal() < 0 ? "-" : Long.toString(c.socketsNotLocal()))));
        if (!r.problems().isEmpty()) {
            out.println();
            out.println("!!! PROBLEMS WITH LOCALBYPASS:");
            for (String p : r.problems()) {
                out.println("!!!   " + p);
            }
        }
    }

    private static String num(double v, boolean count) {
        if (Double.isNaN(v)) {
            return "-";
        }
        return String.format(Locale.ROOT, count || Math.abs(v) >= 1000 ? "%.0f" : "%.2f", v);
    }

    private static String pct(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%+.1f%%", v);
    }

    private static String mb(long bytes) {
        return String.format(Locale.ROOT, "%.1f", bytes / 1e6);
    }

    static String json(BypassBench.Result r, long seconds, int rounds) {
        StringBuilder sb = new StringBuilder("{\"seconds\":").append(seconds).append(",\"rounds\":").append(rounds)
                .append(",\"lines\":[");
        List<BypassLine> lines = r.lines();
        for (int i = 0; i < lines.size(); i++) {
            BypassLine l = lines.get(i);
            Boolean met = l.met();
            sb.append(i == 0 ? "" : ",").append("{\"row\":\"").append(Json.escape(l.row())).append("\",\"measure\":\"")
                    .append(Json.escape(l.measure())).append("\",\"without\":").append(j(l.without()))
                    .append(",\"local_bypass\":").append(j(l.local())).append(",\"old_bypass\":").append(j(l.old()))
                    .append(",\"local_change_percent\":").append(j(l.localChange()))
                    .append(",\"old_change_percent\":").append(j(l.oldChange())).append(",\"target\":")
                    .append(l.target().kind() == BypassTarget.Kind.NONE ? "null"
                            : "\"" + Json.escape(l.target().text()) + "\"")
                    .append(",\"met\":").append(met == null ? "null" : met.toString()).append('}');
        }
        sb.append("],\"counters\":[");
        boolean first = true;
        for (Map.Entry<String, Map<BypassVariant, BypassCounts>> e : r.counts().entrySet()) {
            for (Map.Entry<BypassVariant, BypassCounts> v : e.getValue().entrySet()) {
                BypassCounts c = v.getValue();
                sb.append(first ? "" : ",").append("{\"row\":\"").append(Json.escape(e.getKey()))
                        .append("\",\"bypass\":\"").append(Json.escape(v.getKey().label()))
                        .append("\",\"redirected_messages\":").append(c.redirectedMessages())
                        .append(",\"redirected_bytes\":").append(c.redirectedBytes())
                        .append(",\"passed_messages\":").append(c.passedMessages())
                        .append(",\"passed_bytes\":").append(c.passedBytes())
                        .append(",\"sockets_inserted\":").append(c.socketsInserted() < 0 ? "null" : c.socketsInserted())
                        .append(",\"sockets_not_local\":").append(c.socketsNotLocal() < 0 ? "null" : c.socketsNotLocal())
                        .append('}');
                first = false;
            }
        }
        sb.append("],\"problems\":[");
        for (int i = 0; i < r.problems().size(); i++) {
            sb.append(i == 0 ? "" : ",").append('"').append(Json.escape(r.problems().get(i))).append('"');
        }
        return sb.append("]}").toString();
    }

    private static String j(double v) {
        return Double.isNaN(v) || Double.isInfinite(v) ? "null" : String.format(Locale.ROOT, "%.3f", v);
    }
}
