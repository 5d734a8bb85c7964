package org.sockmap4j.cli;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One redis-benchmark test from its {@code --csv} output (Redis 7: "test","rps","avg_latency_ms",
 * "min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms").
 */
record RedisResult(double requestsPerSecond, double p99Ms) {
    /** Every test in the output, by name ("GET", "SET"). */
    static Map<String, RedisResult> parse(String out) {
        Map<String, RedisResult> tests = new LinkedHashMap<>();
        int rps = -1;
        int p99 = -1;
        for (String line : out.split("\\R")) {
            String[] f = line.strip().replace("\"", "").split(",");
            if (f.length < 2) {
                continue;
            }
            if (f[0].equals("test")) {
                for (int i = 0; i < f.length; i++) {
                    rps = f[i].equals("rps") ? i : rps;
                    p99 = f[i].equals("p99_latency_ms") ? i : p99;
                }
            } else if (rps > 0 && f.length > rps && f[rps].matches("[0-9.]+")) {
                tests.put(f[0], new RedisResult(Double.parseDouble(f[rps]),
                        p99 > 0 && f.length > p99 && f[p99].matches("[0-9.]+") ? Double.parseDouble(f[p99])
                                : Double.NaN));
            }
        }
        if (tests.isEmpty()) {
            throw new Errors.UserError("cannot read redis-benchmark's CSV results:\n" + out.strip());
        }
        return tests;
    }

    /** Lines of redis-benchmark's output that report an error (it has no error counter). */
    static long errorLines(String out) {
        return out.lines().filter(l -> l.matches("(?i).*(error|reset|refused|timed? ?out).*")).count();
    }
}
