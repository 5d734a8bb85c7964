package org.sockmap4j.cli;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * What {@code bench bypass} reads from wrk, redis-benchmark and iperf3 (outputs in the tools'
 * formats, wrk 4.1, redis-benchmark 7.0, iperf3 3.12), and its targets. No privileges needed.
 */
class BypassBenchParsersTest {
    private static final String WRK = """
            Running 5s test @ http://10.0.0.1:8080/1k
              1 threads and 16 connections
              Thread Stats   Avg      Stdev     Max   +/- Stdev
                Latency   412.31us  120.02us   5.20ms   90.00%
                Req/Sec    38.12k     1.20k   40.00k    70.00%
              Latency Distribution
                 50%  390.00us
                 75%  450.00us
                 90%  520.00us
                 99%    1.25ms
              190000 requests in 5.00s, 230.00MB read
              Socket errors: connect 0, read 2, write 1, timeout 3
              Non-2xx or 3xx responses: 4
            Requests/sec:  38000.50
            Transfer/sec:     46.00MB
            """;

    @Test
    void wrkRequestsP99AndEveryKindOfError() {
        WrkResult r = WrkResult.parse(WRK);
        assertThat(r.requestsPerSecond()).isEqualTo(38000.50);
        assertThat(r.p99Ms()).isCloseTo(1.25, within(1e-9));
        assertThat(r.errors()).isEqualTo(10);
        assertThat(r.errorDetail()).isEqualTo("connect 0, read 2, write 1, timeout 3, non-2xx 4");
    }

    @Test
    void wrkWithoutErrorLinesHasNoErrorsAndMicrosecondsConvert() {
        String clean = WRK.replaceAll("99%\\s+1.25ms", "99%  800.00us")
                .replaceAll("(?m)^.*(Socket errors|Non-2xx).*\\n", "");
        WrkResult r = WrkResult.parse(clean);
        assertThat(r.errors()).isZero();
        assertThat(r.p99Ms()).isCloseTo(0.8, within(1e-9));
        assertThatThrownBy(() -> WrkResult.parse("unable to connect")).hasMessageContaining("cannot read wrk");
    }

    @Test
    void redisCsvByTest() {
        String out = """
                "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
                "SET","42918.46","0.658","0.072","0.527","1.215","3.983","8.423"
                "GET","38986.36","0.781","0.224","0.759","1.207","1.439","3.607"
                """;
        var tests = RedisResult.parse(out);
        assertThat(tests).containsOnlyKeys("SET", "GET");
        assertThat(tests.get("GET")).isEqualTo(new RedisResult(38986.36, 1.439));
        assertThat(RedisResult.errorLines(out)).isZero();
        assertThat(RedisResult.errorLines(out + "Error: Connection reset by peer\n")).isEqualTo(1);
    }

    @Test
    void iperfReceiverLine() {
        String out = """
                [ ID] Interval           Transfer     Bitrate         Retr
                [  5]   0.00-5.00   sec  9.80 GBytes  16.9 Gbits/sec    2             sender
                [  5]   0.00-5.00   sec  9.79 GBytes  16.8 Gbits/sec                  receiver
                """;
        assertThat(IperfResult.gbps(out)).isEqualTo(16.8);
    }

    @Test
    void targetsCompareWithAgainstWithout() {
        assertThat(BypassTarget.atLeast(97).met(100, 97)).isTrue();
        assertThat(BypassTarget.atLeast(97).met(100, 96.9)).isFalse();
        assertThat(BypassTarget.atMost(81.5).met(10, 8.15)).isTrue();
        assertThat(BypassTarget.atMost(81.5).met(10, 8.2)).isFalse();
        assertThat(BypassTarget.ZERO.met(3, 0)).isTrue();
        assertThat(BypassTarget.NONE.met(1, 2)).isNull();
        assertThat(BypassTarget.atMost(81.5).text()).isEqualTo("<=81.5%");
        assertThat(BypassTarget.atLeast(97).text()).isEqualTo(">=97%");
        assertThat(new BypassLine("r", "m", 10, 8, Double.NaN, BypassTarget.NONE).localChange()).isEqualTo(-20.0);
        assertThat(new BypassLine("r", "m", 10, 8, Double.NaN, BypassTarget.NONE).oldChange()).isNaN();
    }
}
