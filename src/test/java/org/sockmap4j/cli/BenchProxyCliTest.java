package org.sockmap4j.cli;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code sockmap bench proxy} at a small scale, as a process: it runs every mode (each proxy its
 * own process), checks every echoed byte against what was sent (it exits 1 on a difference), and
 * prints one JSON object with a bulk row per mode and connection count, a round-trip row per mode
 * and size, and its warnings.
 * No claim about the figures: they are benchmark results.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
class BenchProxyCliTest {
    @Test
    @Timeout(330)
    void everyModeMovesVerifiedBytesAndReportsThem() throws Exception {
        // skb_verdict framing needs 5.13; before, bench proxy measures the stream parser only
        List<String> modes = org.sockmap4j.KernelFeatures.probe().has(
                org.sockmap4j.KernelFeatures.Feature.ATTACH_SK_SKB_VERDICT)
                ? List.of("direct", "copy", "splice", "splice-parser") : List.of("direct", "copy", "splice-parser");
        Cli.Result r = Cli.run(Duration.ofSeconds(300), "bench", "proxy", "--connections", "1,4", "--bytes", "2097152",
                "--sizes", "64,65536", "--pings", "100", "--rounds", "1", "--json");
        assertThat(r.exit()).as("%s", r).isZero();
        Map<String, Object> top = MiniJson.object(r.out().get(r.out().size() - 1));
        assertThat(top).containsOnlyKeys("bytes", "rounds", "bulk", "round_trips", "warnings");
        List<Object> bulk = MiniJson.arr(top.get("bulk"));
        List<Object> trips = MiniJson.arr(top.get("round_trips"));
        assertThat(bulk).hasSize(modes.size() * 2);
        assertThat(trips).hasSize(modes.size() * 2);
        for (int i = 0; i < bulk.size(); i++) {
            Map<String, Object> row = MiniJson.obj(bulk.get(i));
            assertThat(row.get("mode")).isEqualTo(modes.get(i / 2));
            assertThat(((Number) row.get("connections")).intValue()).isEqualTo(i % 2 == 0 ? 1 : 4);
            assertThat(((Number) row.get("gbps")).doubleValue()).isPositive();
        }
        for (int i = 0; i < trips.size(); i++) {
            Map<String, Object> row = MiniJson.obj(trips.get(i));
            assertThat(row.get("mode")).isEqualTo(modes.get(i / 2));
            assertThat(((Number) row.get("size")).intValue()).isEqualTo(i % 2 == 0 ? 64 : 65536);
            assertThat(((Number) row.get("mean_us")).doubleValue()).isPositive();
        }
    }
}
