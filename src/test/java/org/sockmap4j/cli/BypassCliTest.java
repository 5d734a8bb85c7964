package org.sockmap4j.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.programs.PingPong;
import org.sockmap4j.testing.BpfFs;
import org.sockmap4j.testing.ChildProcess;
import org.sockmap4j.testing.Exec;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.NetNs;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TempBpfDir;
import org.sockmap4j.testing.TestCgroup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.sockmap4j.cli.Cli.T;

/**
 * {@code sockmap bypass --cgroup DIR}: while it runs, TCP between namespaces A and B (veth
 * 10.0.0.1/24 - 10.0.0.2/24) of processes in DIR goes through the sk_msg redirect; on SIGTERM,
 * SIGINT or the end of --duration it reports its counters, detaches and exits 0.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
class BypassCliTest {
    private static final Pattern STOPPED =
            Pattern.compile("stopped redirected_msgs=\\d+ redirected_bytes=\\d+ passed_msgs=\\d+ passed_bytes=\\d+ "
                    + "sockets=\\d+ sockets_inserted=\\d+ sockets_not_local=\\d+ syns_out_of_scope=\\d+ "
                    + "sockets_fell_back=\\d+");
    private static final Pattern MAP_IDS = Pattern.compile("\"map_ids\":\\[([0-9,]*)\\]");
    private static final Pattern DUMP_ENTRY = Pattern.compile("key ([0-9a-f]{88}) \\((inet6? .+ -> .+)\\) cookie (\\d+)");

    @Test
    @Timeout(180)
    void sigtermStopsTheBypassAfterRedirectingRealTraffic() throws Exception {
        try (TestCgroup cg = TestCgroup.create(); NetNs a = NetNs.create(); NetNs b = NetNs.create();
             TempBpfDir pins = BpfFs.tempDir();
             ChildProcess cli = Cli.start("bypass", "--cgroup", cg.path().toString(), "--duration", "90")) {
            assertThat(cli.readLine(T)).isEqualTo("ready bypass cgroup=" + cg.path());
            Cli.Program ops = Cli.sockOpsProgram(cg.path()).orElseThrow(
                    () -> new AssertionError("no sock_ops program on " + cg.path() + " after ready"));
            assertThat(ops.name()).isEqualTo("lbypass_sockops");
            NetNs.vethPair(a, "10.0.0.1/24", b, "10.0.0.2/24");

            Path hashPin = pins.resolve("bypass_hash");
            pinSockHashOf(ops.id(), hashPin);
            exchange(cg, a, b, 7000, 2000, 100, () -> {
                // both ends of the connection are in the bypass's map, as `sockmap map dump` shows
                List<String> entries = dumpEntries(hashPin, 2);
                assertThat(entries).hasSize(2);
                assertThat(String.join("\n", entries)).contains("10.0.0.1:7000").contains("10.0.0.2:");
            });

            Cli.signal(cli, "TERM");
            String stopped = cli.readLine(T);
            assertThat(stopped).matches(STOPPED);
            // every byte of both directions went through the redirect
            assertThat(Cli.field(stopped, "redirected_bytes")).isEqualTo(2L * 2000 * 100);
            assertThat(Cli.field(stopped, "redirected_msgs")).isGreaterThanOrEqualTo(2L * 2000);
            assertThat(Cli.exitStatus(cli, T)).as("exit status; stderr: %s", cli.stderr()).isZero();
            assertThat(cli.stderr()).as("no live counters when stderr is not a terminal").isEmpty();
            Cli.assertNothingAttached(cg.path());
            Cli.assertProgramGone(ops.id());
        }
    }

    @Test
    @Timeout(180)
    void sigintWithoutDurationStopsCleanly() throws Exception {
        try (TestCgroup cg = TestCgroup.create(); NetNs a = NetNs.create(); NetNs b = NetNs.create();
             ChildProcess cli = Cli.start("bypass", "--cgroup", cg.path().toString())) {
            assertThat(cli.readLine(T)).isEqualTo("ready bypass cgroup=" + cg.path());
            int opsId = Cli.sockOpsProgram(cg.path()).orElseThrow().id();
            NetNs.vethPair(a, "10.0.0.1/24", b, "10.0.0.2/24");
            exchange(cg, a, b, 7100, 300, 64, () -> { });
            assertThat(cli.isAlive()).as("runs until a signal").isTrue();

            Cli.signal(cli, "INT");
            String stopped = cli.readLine(T);
            assertThat(stopped).matches(STOPPED);
            assertThat(Cli.field(stopped, "redirected_bytes")).isEqualTo(2L * 300 * 64);
            assertThat(Cli.exitStatus(cli, T)).as("exit status; stderr: %s", cli.stderr()).isZero();
            Cli.assertNothingAttached(cg.path());
            Cli.assertProgramGone(opsId);
        }
    }

    @Test
    @Timeout(180)
    void twoCgroupsWithAPortScopeAndJsonCounters() throws Exception {
        try (TestCgroup x = TestCgroup.create(); TestCgroup y = TestCgroup.create();
             NetNs a = NetNs.create(); NetNs b = NetNs.create();
             ChildProcess cli = Cli.start("bypass", "--cgroup", x.path().toString(), "--cgroup", y.path().toString(),
                     "--ports", "7300,7400-7410", "--cidr", "10.0.0.0/24", "--json", "--duration", "90")) {
            assertThat(cli.readLine(T)).isEqualTo("ready bypass cgroup=" + x.path() + "," + y.path()
                    + " ports=7300,7400-7410 cidrs=10.0.0.0/24");
            assertThat(Cli.sockOpsProgram(x.path())).isPresent();
            assertThat(Cli.sockOpsProgram(y.path())).isPresent();
            NetNs.vethPair(a, "10.0.0.1/24", b, "10.0.0.2/24");
            // server in x, client in y: bypassed on 7405; on 7500 (out of scope) not
            for (int port : new int[] {7405, 7500}) {
                try (ChildProcess server = ChildProcess.startIn(a, PingPong.class, "server", "10.0.0.1",
                        Integer.toString(port));
                     ChildProcess client = ChildProcess.startIn(b, PingPong.class, "client", "10.0.0.1",
                             Integer.toString(port), "400", "50")) {
                    assertThat(server.readLine(T)).isEqualTo("ready");
                    assertThat(client.readLine(T)).isEqualTo("ready");
                    x.addProcess(server.pid());
                    y.addProcess(client.pid());
                    server.writeLine("go");
                    assertThat(server.readLine(T)).isEqualTo("listening");
                    client.writeLine("go");
                    assertThat(client.readLine(T)).isEqualTo("connected");
                    client.writeLine("start");
                    assertThat(client.readLine(T)).isEqualTo("ok 400");
                    assertThat(client.waitFor(T)).isZero();
                    assertThat(server.readLine(T)).isEqualTo("done 20000");
                }
            }
            String line = cli.readLine(T); // one JSON object a second while it runs
            assertThat(line).startsWith("{\"stopped\":false,\"sockets\":");
            Cli.signal(cli, "TERM");
            String last;
            do {
                last = cli.readLine(T);
            } while (last.startsWith("{\"stopped\":false"));
            @SuppressWarnings("unchecked")
            Map<String, Object> json = (Map<String, Object>) MiniJson.parse(last);
            assertThat(json.get("stopped")).isEqualTo(true);
            assertThat(((Number) json.get("redirected_bytes")).longValue()).isEqualTo(2L * 400 * 50);
            assertThat(((Number) json.get("passed_msgs")).longValue()).isZero();
            assertThat(((Number) json.get("sockets_inserted")).longValue()).isEqualTo(2);
            assertThat(((Number) json.get("syns_out_of_scope")).longValue()).isEqualTo(1);
            assertThat(Cli.exitStatus(cli, T)).as("exit status; stderr: %s", cli.stderr()).isZero();
            Cli.assertNothingAttached(x.path());
            Cli.assertNothingAttached(y.path());
        }
    }

    @Test
    @Timeout(120)
    void durationEndsTheRunByItself() throws Exception {
        try (TestCgroup cg = TestCgroup.create();
             ChildProcess cli = Cli.start("bypass", "--cgroup", cg.path().toString(), "--duration", "2")) {
            assertThat(cli.readLine(T)).isEqualTo("ready bypass cgroup=" + cg.path());
            long readyAt = System.nanoTime();
            assertThat(Cli.sockOpsProgram(cg.path())).isPresent();
            assertThat(cli.readLine(T)).isEqualTo("stopped redirected_msgs=0 redirected_bytes=0 passed_msgs=0 "
                    + "passed_bytes=0 sockets=0 sockets_inserted=0 sockets_not_local=0 syns_out_of_scope=0 "
                    + "sockets_fell_back=0");
            assertThat(Cli.exitStatus(cli, T)).as("exit status; stderr: %s", cli.stderr()).isZero();
            assertThat(System.nanoTime() - readyAt).as("ran for about --duration")
                    .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(1500));
            Cli.assertNothingAttached(cg.path());
        }
    }

    /**
     * PingPong server in {@code a} on 10.0.0.1:PORT and client in {@code b}, both moved into the
     * cgroup before they open a socket; {@code whileConnected} runs once the connection is up and
     * before data flows; then COUNT messages of SIZE bytes go back and forth, checked byte by byte.
     */
    private static void exchange(TestCgroup cg, NetNs a, NetNs b, int port, int count, int size,
            ThrowingRunnable whileConnected) throws Exception {
        Duration t = T;
        try (ChildProcess server = ChildProcess.startIn(a, PingPong.class, "server", "10.0.0.1", Integer.toString(port));
             ChildProcess client = ChildProcess.startIn(b, PingPong.class, "client", "10.0.0.1",
                     Integer.toString(port), Integer.toString(count), Integer.toString(size))) {
            assertThat(server.readLine(t)).isEqualTo("ready");
            assertThat(client.readLine(t)).isEqualTo("ready");
            cg.addProcess(server.pid());
            cg.addProcess(client.pid());
            server.writeLine("go");
            assertThat(server.readLine(t)).isEqualTo("listening");
            client.writeLine("go");
            assertThat(client.readLine(t)).isEqualTo("connected");
            whileConnected.run();
            client.writeLine("start");
            assertThat(client.readLine(t)).isEqualTo("ok " + count);
            assertThat(client.waitFor(t)).isZero();
            assertThat(server.readLine(t)).isEqualTo("done " + (long) count * size);
        }
    }

    @FunctionalInterface
    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    /** Pins the SOCKHASH the sock_ops program {@code progId} uses (found with bpftool) at {@code pin}. */
    private static void pinSockHashOf(int progId, Path pin) {
        Matcher ids = MAP_IDS.matcher(Exec.check("bpftool", "-j", "prog", "show", "id", Integer.toString(progId)));
        assertThat(ids.find()).as("map_ids of program %d", progId).isTrue();
        for (String id : ids.group(1).split(",")) {
            if (Exec.check("bpftool", "-j", "map", "show", "id", id).contains("\"type\":\"sockhash\"")) {
                Exec.check("bpftool", "map", "pin", "id", id, pin.toString());
                return;
            }
        }
        throw new AssertionError("program " + progId + " uses no sockhash (maps " + ids.group(1) + ")");
    }

    /** `sockmap map dump PIN` until it lists {@code expected} entries (sock_ops adds them as connections establish). */
    private static List<String> dumpEntries(Path pin, int expected) throws InterruptedException {
        Cli.Result r = null;
        List<String> entries = List.of();
        for (int i = 0; i < 20; i++) {
            r = Cli.run("map", "dump", pin.toString());
            assertThat(r.exit()).as("%s", r).isZero();
            assertThat(r.out().get(0)).as("%s", r).startsWith("sockhash id ").contains(" 'sock_hash' ");
            entries = r.out().subList(1, r.out().size());
            if (entries.size() >= expected) {
                break;
            }
            TimeUnit.MILLISECONDS.sleep(100);
        }
        for (String e : entries) {
            assertThat(e).as("%s", r).matches(DUMP_ENTRY);
        }
        return entries;
    }
}
