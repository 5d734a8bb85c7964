package org.sockmap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;

import org.junit.jupiter.api.Test;

/**
 * The rows of {@code sockmap bench latency}'s table split into their numbers however wide a value
 * is: a stalled run once printed a 1,001,840 us maximum flush against the previous column, and
 * the row no longer parsed. No privileges needed.
 */
class LatencyTableTest {
    private static double[] parse(String row, String label) {
        assertThat(row).startsWith(label);
        return Arrays.stream(row.substring(label.length()).trim().split("\\s+"))
                .mapToDouble(Double::parseDouble).toArray();
    }

    @Test
    void valuesWiderThanTheirColumnStaySeparate() {
        double[] v = {6.21, 6.14, 6.77, 20_700_000.70, 1_001_840.00, 123_456_789_012.0};
        String row = BenchCommand.Latency.formatRow("without bypass", v, BenchCommand.Latency.VALUE,
                BenchCommand.Latency.LAST_VALUE);
        assertThat(parse(row, "without bypass")).containsExactly(6.21, 6.14, 6.77, 20_700_000.70, 1_001_840.00,
                123_456_789_012.0);
    }

    @Test
    void usualValuesKeepTheirColumns() {
        double[] v = {6.21, 6.14, 6.77, 20.70, 1506.67, 80445};
        String row = BenchCommand.Latency.formatRow("with bypass", v, BenchCommand.Latency.VALUE,
                BenchCommand.Latency.LAST_VALUE);
        assertThat(row).isEqualTo("with bypass           6.21      6.14      6.77     20.70   1506.67       80445");
    }

    @Test
    void changesCarryTheirSign() {
        double[] v = {-18.0, -17.5, -12345678.9, 0, 3.25, 1.0};
        String row = BenchCommand.Latency.formatRow("change %", v, BenchCommand.Latency.CHANGE,
                BenchCommand.Latency.LAST_CHANGE);
        assertThat(parse(row, "change %")).containsExactly(-18.0, -17.5, -12345678.9, 0.0, 3.3, 1.0);
    }
}
