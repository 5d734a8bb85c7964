package org.sockmap4j.cli;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One wrk run ({@code --latency}): requests per second, the 99th percentile latency in
 * milliseconds, and what went wrong: wrk's "Socket errors: connect N, read N, write N, timeout N"
 * line and its "Non-2xx or 3xx responses: N" line (each printed only when not zero).
 */
record WrkResult(double requestsPerSecond, double p99Ms, long connectErrors, long readErrors, long writeErrors,
        long timeouts, long non2xx) {
    private static final Pattern RPS = Pattern.compile("Requests/sec:\\s+([0-9.]+)");
    private static final Pattern P99 = Pattern.compile("(?m)^\\s*99(?:\\.000)?%\\s+([0-9.]+)(us|ms|s|m|h)\\s*$");
    private static final Pattern SOCKET = Pattern.compile(
            "Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)");
    private static final Pattern NON2XX = Pattern.compile("Non-2xx or 3xx responses: (\\d+)");

    static WrkResult parse(String out) {
        Matcher rps = RPS.matcher(out);
        Matcher p99 = P99.matcher(out);
        if (!rps.find() || !p99.find()) {
            throw new Errors.UserError("cannot read wrk's results:\n" + out.strip());
        }
        double ms = Double.parseDouble(p99.group(1)) * switch (p99.group(2)) {
            case "us" -> 0.001;
            case "ms" -> 1;
            case "s" -> 1000;
            case "m" -> 60_000;
            default -> 3_600_000;
        };
        long[] e = new long[4];
        Matcher s = SOCKET.matcher(out);
        if (s.find()) {
            for (int i = 0; i < 4; i++) {
                e[i] = Long.parseLong(s.group(i + 1));
            }
        }
        Matcher n = NON2XX.matcher(out);
        return new WrkResult(Double.parseDouble(rps.group(1)), ms, e[0], e[1], e[2], e[3],
                n.find() ? Long.parseLong(n.group(1)) : 0);
    }

    /** Socket errors, timeouts and non-2xx responses together. */
    long errors() {
        return connectErrors + readErrors + writeErrors + timeouts + non2xx;
    }

    /** The error counts as wrk names them. */
    String errorDetail() {
        return "connect " + connectErrors + ", read " + readErrors + ", write " + writeErrors + ", timeout " + timeouts
                + ", non-2xx " + non2xx;
    }
}
