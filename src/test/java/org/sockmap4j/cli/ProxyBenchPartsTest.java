package org.sockmap4j.cli;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The parts of {@code bench proxy} that need no privileges: the peers' configurations and
 * command lines, what it reads from their version output, dpkg, nginx -V and cpu.stat, the
 * connect-to-EOF client against a small server in this JVM, and the table and JSON it prints.
 */
class ProxyBenchPartsTest {
    @Test
    void haproxyIsPlainTcpWithSpliceAuto() {
        String cfg = PeerConfigs.haproxy(4000, 5000);
        assertThat(cfg.lines().map(String::strip)).contains("mode tcp", "option splice-auto", "bind 127.0.0.1:4000",
                "server up 127.0.0.1:5000");
        assertThat(cfg).doesNotContain("nbthread", "daemon"); // default threads, foreground from -db
        assertThat(PeerConfigs.haproxyCommand("/usr/sbin/haproxy", Path.of("/t/h.cfg")))
                .containsExactly("/usr/sbin/haproxy", "-db", "-f", "/t/h.cfg");
    }

    @Test
    void nginxStreamKeepsItsFilesInItsDirectory() {
        Path d = Path.of("/tmp/x");
        String conf = PeerConfigs.nginxStream(d, "/usr/lib/nginx/modules/ngx_stream_module.so", 4000, 5000);
        List<String> lines = conf.lines().map(String::strip).toList();
        assertThat(lines.get(0)).isEqualTo("load_module /usr/lib/nginx/modules/ngx_stream_module.so;");
        assertThat(lines).contains("daemon off;", "pid /tmp/x/nginx.pid;", "error_log /tmp/x/error.log warn;",
                "listen 127.0.0.1:4000;", "proxy_pass 127.0.0.1:5000;");
        assertThat(PeerConfigs.nginxStream(d, null, 1, 2)).doesNotContain("load_module");
        assertThat(PeerConfigs.nginxCommand("nginx", d, d.resolve("n.conf")))
                .containsExactly("nginx", "-e", "/tmp/x/error.log", "-p", "/tmp/x", "-c", "/tmp/x/n.conf");
        assertThat(PeerConfigs.socatCommand("socat", 4000, 5000)).containsExactly("socat",
                "TCP-LISTEN:4000,bind=127.0.0.1,fork,reuseaddr", "TCP:127.0.0.1:5000");
    }

    @Test
    void versionsAsThePeersPrintThem() {
        assertThat(PeerTools.parseVersion("haproxy", """
                HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/
                Status: long-term supported branch - will stop receiving fixes around Q2 2027.
                """)).isEqualTo("HAProxy 2.6.12-1+deb12u4");
        assertThat(PeerTools.parseVersion("haproxy", "HA-Proxy version 2.2.9-2+deb11u6 2023/12/12"))
                .isEqualTo("HAProxy 2.2.9-2+deb11u6");
        assertThat(PeerTools.parseVersion("nginx", "nginx version: nginx/1.22.1\n")).isEqualTo("nginx 1.22.1");
        assertThat(PeerTools.parseVersion("socat", """
                socat by Gerhard Rieger and contributors - see www.dest-unreach.org
                socat version 1.7.4.4 on 06 Nov 2022 08:15:51
                """)).isEqualTo("socat 1.7.4.4");
        assertThat(PeerTools.parseVersion("nginx", "")).isEqualTo("unknown");
    }

    @Test
    void streamModuleFromDpkgOrBuiltIn() {
        assertThat(PeerTools.moduleIn("""
                /.
                /usr/lib/nginx/modules
                /usr/lib/nginx/modules/ngx_stream_module.so
                /usr/share/nginx/modules-available/mod-stream.conf
                """)).isEqualTo("/usr/lib/nginx/modules/ngx_stream_module.so");
        assertThat(PeerTools.moduleIn("dpkg-query: package 'libnginx-mod-stream' is not installed")).isNull();
        assertThat(PeerTools.builtIn("configure arguments: --with-stream=dynamic --with-stream_ssl_module")).isFalse();
        assertThat(PeerTools.builtIn("configure arguments: --with-http_ssl_module --with-stream --with-threads"))
                .isTrue();
    }

    @Test
    void cpuStatUsage() {
        assertThat(ProxyCgroups.usageMicros("usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n"))
                .isEqualTo(123456);
        assertThatThrownBy(() -> ProxyCgroups.usageMicros("user_usec 1\n")).isInstanceOf(
                IllegalArgumentException.class);
    }

    @Test
    void bytesOurProxyReportsWhenStopped() {
        assertThat(ProxyProcess.reportedBytes("stopped connections=3 bytes=1234")).isEqualTo(1234);
        assertThat(ProxyProcess.reportedBytes("stopped connections=3 bytes=1234 spliced=2")).isEqualTo(1234);
        assertThat(ProxyProcess.reportedBytes("connections 3  bytes 1234")).isEqualTo(-1);
        assertThat(ProxyProcess.reportedBytes("stopped connections=3 bytes=12x")).isEqualTo(-1);
    }

    @Test
    void wrkClosesEveryConnection() {
        assertThat(ShortConnectionLoad.command("wrk", "http://127.0.0.1:1/1k", 8, 5)).containsExactly("wrk", "-t1",
                "-c8", "-d5s", "--latency", "--timeout", "2s", "-H", "Connection: close", "http://127.0.0.1:1/1k");
    }

    @Test
    void rowsByName() {
        assertThat(ProxyRow.named("splice-auto", 0).sockmapArgs()).containsExactly("--mode", "splice", "--policy",
                "auto");
        assertThat(ProxyRow.named("copy", 4096).sockmapArgs()).containsExactly("--mode", "copy", "--sockbuf", "4096");
        assertThat(ProxyRow.named("splice", 0).splices()).isTrue();
        assertThat(ProxyRow.named("copy", 0).splices()).isFalse();
        assertThat(ProxyRow.named("haproxy", 0).kind()).isEqualTo(ProxyRow.Kind.HAPROXY);
        assertThatThrownBy(() -> ProxyRow.named("envoy", 0)).hasMessageContaining("unknown mode 'envoy'");
        assertThat(ProxyRow.DEFAULT).containsExactly("direct", "copy", "splice", "splice-auto", "haproxy", "nginx",
                "socat");
    }

    @Test
    void connectToEofChecksTheAnswer() {
        byte[] ok = answer("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n", 4);
        assertThat(ConnectToEof.check(ok, 4)).isNull();
        assertThat(ConnectToEof.check(ok, 5)).isEqualTo("body of 4 bytes, not 5");
        assertThat(ConnectToEof.check(answer("HTTP/1.1 502 Bad Gateway\r\n\r\n", 0), 0)).startsWith("not a 200");
        assertThat(ConnectToEof.check(new byte[0], 0)).startsWith("not a 200");
        assertThat(ConnectToEof.percentile(new long[] {1, 2, 3, 4}, 0.5)).isEqualTo(2);
        assertThat(ConnectToEof.percentile(new long[] {5}, 0.99)).isEqualTo(5);
        assertThat(ConnectToEof.percentile(new long[0], 0.5)).isNaN();
    }

    @Test
    @Timeout(30)
    void connectToEofAgainstAServerThatAnswersAndCloses() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread t = Thread.ofPlatform().daemon().start(() -> serve(server, 3));
            ConnectToEof.Result r = ConnectToEof.run(new InetSocketAddress(InetAddress.getLoopbackAddress(),
                    server.getLocalPort()), "/1k", 1024, 6, 20);
            assertThat(r.done()).isEqualTo(3);
            assertThat(r.failures()).isEqualTo(3); // every second answer is one byte short
            assertThat(r.firstFailure()).contains("body of 1023 bytes, not 1024");
            assertThat(r.p50Ms()).isPositive();
            server.close();
            t.join(5000);
        }
    }

    /** Answers {@code 2 * pairs} connections: a good answer, then one a byte short, in turn. */
    private static void serve(ServerSocket server, int pairs) {
        for (int i = 0; i < 2 * pairs; i++) {
            try (Socket s = server.accept()) {
                byte[] req = new byte[4096];
                int n = s.getInputStream().read(req);
                assertThat(new String(req, 0, Math.max(0, n), StandardCharsets.US_ASCII)).startsWith("GET /1k HTTP/1.0");
                s.getOutputStream().write(answer("HTTP/1.1 200 OK\r\n\r\n", i % 2 == 0 ? 1024 : 1023));
            } catch (IOException e) {
                return;
            }
        }
    }

    private static byte[] answer(String head, int body) {
        byte[] h = head.getBytes(StandardCharsets.US_ASCII);
        byte[] a = new byte[h.length + body];
        System.arraycopy(h, 0, a, 0, h.length);
        return a;
    }

    @Test
    void tableAndJsonShowErrorsAndLeaveNothingOut() {
        ProxyBench.Settings s = new ProxyBench.Settings(List.of(1, 8, 64), 1 << 28, 64, 20000, 5, 8, 500, 3);
        Map<String, String> versions = new LinkedHashMap<>();
        versions.put("haproxy", "HAProxy 2.6.12");
        ProxyBench.Result r = new ProxyBench.Result(s, List.of(
                new ProxyBench.Row("direct", 20.5, 30.25, List.of(10.0, 20.0, 30.0), Double.NaN, 1.5, 20000, 0, 0.2,
                        0.5),
                new ProxyBench.Row("haproxy", 40.0, 60.0, List.of(5.0, 6.0, 7.0), 0.8, 3.25, 7000, 12, 0.4, 1.5)),
                List.of("socat: socat not installed: apt-get install socat"), versions,
                List.of("haproxy round 1: wrk: connect 0, read 12, write 0, timeout 0, non-2xx 0"),
                List.of("splice round 2, bulk with 64 connections of 4194304 bytes each way: a transfer failed"));
        List<String> table = ProxyBenchReport.table(r);
        assertThat(table).hasSize(4);
        assertThat(table.get(1).split("\\s+")).containsExactly("mode", "mean", "p99", "1c", "8c", "64c", "proxy",
                "machine", "conn/s", "errs", "p50", "p99");
        assertThat(table.get(2).split("\\s+")).containsExactly("direct", "20.5", "30.3", "10.00", "20.00", "30.00",
                "-", "1.50", "20000", "0", "0.200", "0.500");
        assertThat(table.get(3).split("\\s+")).containsExactly("haproxy", "40.0", "60.0", "5.00", "6.00", "7.00",
                "0.800", "3.25", "7000", "12", "0.400", "1.500");
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        ProxyBenchReport.text(new java.io.PrintStream(bytes, true, StandardCharsets.UTF_8), r);
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertThat(text).contains("FAILED: splice round 2, bulk with 64 connections", "not run: socat: socat not installed", "WARNING: haproxy round 1: wrk: connect 0, "
                + "read 12", "haproxy: HAProxy 2.6.12, mode tcp, option splice-auto");
        Map<String, Object> json = MiniJson.object(ProxyBenchReport.json(r));
        assertThat(json).containsKeys("rounds", "connections", "rows", "not_run", "versions", "warnings", "failures");
        assertThat(MiniJson.arr(json.get("failures"))).hasSize(1);
        Map<String, Object> direct = MiniJson.obj(MiniJson.arr(json.get("rows")).get(0));
        assertThat(direct.get("proxy_cpu_s_per_gib")).isNull();
        assertThat(MiniJson.arr(direct.get("gbps"))).hasSize(3);
        Map<String, Object> haproxy = MiniJson.obj(MiniJson.arr(json.get("rows")).get(1));
        assertThat(((Number) haproxy.get("errors")).longValue()).isEqualTo(12);
        assertThat(MiniJson.arr(json.get("warnings"))).hasSize(1);
    }
}
