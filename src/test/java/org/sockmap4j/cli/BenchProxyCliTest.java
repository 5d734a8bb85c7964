package org.sockmap4j.cli;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code sockmap bench proxy} at a small scale, as a process: it runs every default row that can
 * run here (ours each its own process, the installed peers), checks every echoed byte against what
 * was sent (it exits 1 on a difference), and prints one JSON object with a row per proxy, the rows
 * left out with the reason, the peers' versions and its warnings. Every row it leaves out must be
 * one that cannot run here, every error it counted must be described in a warning, and the bytes
 * each splice proxy reports moving must equal what the clients moved.
 * No claim about the figures: they are benchmark results.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
class BenchProxyCliTest {
    @Test
    @Timeout(150)
    void everyRowMovesVerifiedBytesAndReportsThem() throws Exception {
        Cli.Result r = Cli.run(Duration.ofSeconds(140), "bench", "proxy", "--connections", "1,4", "--bytes", "2097152",
                "--pings", "100", "--wrk-seconds", "1", "--short-connections", "20", "--rounds", "1", "--json");
        assertThat(r.exit()).as("%s", r).isZero();
        Map<String, Object> top = MiniJson.object(r.out().get(r.out().size() - 1));
        assertThat(top).containsOnlyKeys("rounds", "bytes", "size", "pings", "connections", "wrk_seconds",
                "wrk_connections", "short_connections", "rows", "not_run", "versions", "warnings", "failures");
        List<String> ran = new ArrayList<>();
        for (Object o : MiniJson.arr(top.get("rows"))) {
            Map<String, Object> row = MiniJson.obj(o);
            String mode = (String) row.get("mode");
            ran.add(mode);
            List<Object> gbps = MiniJson.arr(row.get("gbps"));
            assertThat(gbps).as(mode).hasSize(2);
            for (Object g : gbps) {
                assertThat(((Number) g).doubleValue()).as(mode).isPositive();
            }
            assertThat(((Number) row.get("rtt_mean_us")).doubleValue()).as(mode).isPositive();
            assertThat(((Number) row.get("conns_per_s")).doubleValue()).as(mode).isPositive();
            assertThat(((Number) row.get("connect_eof_p50_ms")).doubleValue()).as(mode).isPositive();
            assertThat(row.get("proxy_cpu_s_per_gib") == null).as(mode).isEqualTo(mode.equals("direct"));
            if (((Number) row.get("errors")).longValue() > 0) {
                assertThat(MiniJson.arr(top.get("warnings"))).as("errors of " + mode + " explained")
                        .anySatisfy(w -> assertThat((String) w).startsWith(mode + " "));
            }
        }
        assertThat(MiniJson.arr(top.get("warnings"))).as("byte counts of the splice proxies")
                .noneSatisfy(w -> assertThat((String) w).contains("the proxy counted"));
        List<String> left = MiniJson.arr(top.get("not_run")).stream().map(o -> ((String) o).split(":")[0]).toList();
        assertThat(ran).containsAll(List.of("direct", "copy", "splice"));
        List<String> all = new ArrayList<>(ran);
        all.addAll(left);
        assertThat(all).containsExactlyInAnyOrderElementsOf(ProxyRow.DEFAULT);
        assertThat(ran).isSortedAccordingTo(java.util.Comparator.comparing(ProxyRow.DEFAULT::indexOf));
        for (String peer : List.of("haproxy", "socat")) {
            assertThat(ran.contains(peer)).as(peer + " installed, so measured").isEqualTo(BenchTools.find(peer) != null);
        }
        assertThat(ran.contains("splice-auto")).isEqualTo(ProxyRow.proxyHasOption("--policy"));
        Map<String, Object> versions = MiniJson.obj(top.get("versions"));
        for (String peer : List.of("haproxy", "nginx", "socat")) {
            assertThat(versions.containsKey(peer)).isEqualTo(ran.contains(peer));
        }
    }
}
