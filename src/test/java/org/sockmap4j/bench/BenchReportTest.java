package org.sockmap4j.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The table of {@code scripts/bench-ops.sh}: ratios are taken within a round (C and Java run back
 * to back), their median is the ratio reported, and the last line is the worst of them. No
 * privileges needed.
 */
class BenchReportTest {
    @TempDir
    Path dir;

    private void c(int round, int index, String op, double value, String unit) throws IOException {
        Files.writeString(dir.resolve("c-" + round + "-" + index + ".txt"), "op " + op + " " + value + " " + unit + "\n");
    }

    private void jmh(int round, int index, String benchmark, String map, double score, double alloc)
            throws IOException {
        String params = map == null ? "" : "\"params\" : { \"map\" : \"" + map + "\" },";
        Files.writeString(dir.resolve("jmh-" + round + "-" + index + ".json"), """
                [ { "benchmark" : "org.sockmap4j.bench.%s", %s
                    "primaryMetric" : { "score" : %s, "scoreUnit" : "ns/op" },
                    "secondaryMetrics" : { "gc.alloc.rate.norm" : { "score" : %s } } } ]
                """.formatted(benchmark, params, score, alloc));
    }

    private static String row(String report, String op) {
        return report.lines().filter(l -> l.startsWith(op + " ")).findFirst().orElseThrow();
    }

    @Test
    void ratiosArePairedWithinRounds() throws IOException {
        // round 1 slow for both sides, round 2 fast for both: paired ratios 1.10 and 1.00, median 1.05;
        // unpaired medians (Java 1650, C 1500) would give 1.10
        c(1, 1, "lookup/sockmap", 2000, "ns");
        jmh(1, 1, "MapOpsBenchmark.lookup", "sockmap", 2200, 0.0);
        c(2, 1, "lookup/sockmap", 1000, "ns");
        jmh(2, 1, "MapOpsBenchmark.lookup", "sockmap", 1000, 0.2);
        c(1, 10, "loadObject", 2000, "us");
        jmh(1, 10, "ControlBenchmark.loadObject", null, 2100, 1800);
        String report = BenchReport.report(dir);

        assertThat(row(report, "lookup/sockmap").split("\\s+"))
                .containsExactly("lookup/sockmap", "1600.0", "ns", "1500.0", "ns", "1.05", "1.00-1.10", "0.1");
        assertThat(row(report, "loadObject").split("\\s+"))
                .containsExactly("loadObject", "2100.0", "us", "2000.0", "us", "1.05", "1.05-1.05", "1800.0");
        assertThat(report.lines().toList()).first().asString().startsWith("operation");
        // operations in the order they ran, even past index 9
        assertThat(report.indexOf("lookup/sockmap")).isLessThan(report.indexOf("loadObject"));
        assertThat(report.lines().toList()).last().isEqualTo("worst ratio: 1.05");
    }

    @Test
    void anOperationJavaDidNotRunHasNoRatio() throws IOException {
        c(1, 1, "attachDetach", 5.0, "us");
        jmh(1, 2, "ControlBenchmark.loadObject", null, 2100, 1800);
        c(1, 2, "loadObject", 1400, "us");
        String report = BenchReport.report(dir);

        assertThat(row(report, "attachDetach").split("\\s+"))
                .containsExactly("attachDetach", "NaN", "us", "5.0", "us", "NaN", "-", "-");
        assertThat(report.lines().toList()).last().isEqualTo("worst ratio: 1.50");
    }
}
