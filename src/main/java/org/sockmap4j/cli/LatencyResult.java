package org.sockmap4j.cli;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One ping-pong run: one-way latency in microseconds (half the round trip, as sockperf reports)
 * and messages per second.
 */
record LatencyResult(double mean, double p50, double p99, double p999, double max, double messagesPerSecond) {
    private static final Pattern AVG = Pattern.compile("avg-latency=([0-9.]+)");
    private static final Pattern PCT = Pattern.compile("---> percentile ([0-9.]+) =\\s*([0-9.]+)");
    private static final Pattern MAX = Pattern.compile("---> <MAX> observation =\\s*([0-9.]+)");
    private static final Pattern RUN = Pattern.compile("RunTime=([0-9.]+) sec;.*ReceivedMessages=(\\d+)");
    private static final Pattern PEER = Pattern.compile(
            "avg=([0-9.]+) p50=([0-9.]+) p99=([0-9.]+) p999=([0-9.]+) max=([0-9.]+) msgs_per_sec=([0-9.]+)");

    /** Parses sockperf ping-pong output (or the built-in peer's one line). */
    static LatencyResult parse(String out) {
        Matcher peer = PEER.matcher(out);
        if (peer.find()) {
            return new LatencyResult(d(peer, 1), d(peer, 2), d(peer, 3), d(peer, 4), d(peer, 5), d(peer, 6));
        }
        Matcher avg = AVG.matcher(out);
        Matcher max = MAX.matcher(out);
        Matcher run = RUN.matcher(out);
        if (!avg.find() || !max.find() || !run.find()) {
            throw new Errors.UserError("cannot read the ping-pong results:\n" + out.strip());
        }
        double p50 = Double.NaN;
        double p99 = Double.NaN;
        double p999 = Double.NaN;
        Matcher pct = PCT.matcher(out);
        while (pct.find()) {
            switch (pct.group(1)) {
                case "50.000" -> p50 = Double.parseDouble(pct.group(2));
                case "99.000" -> p99 = Double.parseDouble(pct.group(2));
                case "99.900" -> p999 = Double.parseDouble(pct.group(2));
                default -> { }
            }
        }
        double seconds = Double.parseDouble(run.group(1));
        double msgs = Double.parseDouble(run.group(2));
        return new LatencyResult(Double.parseDouble(avg.group(1)), p50, p99, p999, Double.parseDouble(max.group(1)),
                seconds > 0 ? msgs / seconds : 0);
    }

    private static double d(Matcher m, int g) {
        return Double.parseDouble(m.group(g));
    }

    double[] values() {
        return new double[] {mean, p50, p99, p999, max, messagesPerSecond};
    }
}
