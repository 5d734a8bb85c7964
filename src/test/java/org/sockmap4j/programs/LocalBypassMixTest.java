package org.sockmap4j.programs;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.Cgroup;
import org.sockmap4j.ConnectionKey;
import org.sockmap4j.recipes.BypassScope;
import org.sockmap4j.recipes.LocalBypass;
import org.sockmap4j.testing.ChildProcess;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.NetNs;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TestCgroup;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * LocalBypass with the traffic a container really has: local and outside peers at once, two
 * cgroups, dual-stack sockets with IPv4-only peers, scope edits while it runs, and stopping it
 * between two rounds of one connection. What is asserted is what the kernel did: the SOCKHASH's
 * keys, the programs' own counters (a message the sk_msg program sees is counted, redirected or
 * passed) and the bytes each peer got back.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
class LocalBypassMixTest {
    private static final Duration T = Duration.ofSeconds(30);

    /**
     * Starts {@code main} with {@code args} in {@code ns}, waits for its {@code ready} and puts it in
     * {@code cg} (none if null); the child is closed if that fails.
     */
    private static ChildProcess readyIn(NetNs ns, TestCgroup cg, String main, List<String> jvmArgs, String... args) {
        ChildProcess p = ChildProcess.builder(main).netns(ns).jvmArgs(jvmArgs.toArray(String[]::new)).args(args)
                .start();
        try {
            assertThat(p.readLine(T)).as("stderr: %s", p).isEqualTo("ready");
            if (cg != null) {
                cg.addProcess(p.pid());
            }
            return p;
        } catch (RuntimeException | AssertionError e) {
            p.close();
            throw e;
        }
    }

    /** A PingPong echo server for one connection, started in {@code ns}, listening when returned. */
    private static ChildProcess server(NetNs ns, TestCgroup cg, String host, int port, String... jvmArgs) {
        ChildProcess p = readyIn(ns, cg, PingPong.class.getName(), List.of(jvmArgs), "server", host,
                Integer.toString(port));
        try {
            p.writeLine("go");
            assertThat(p.readLine(T)).isEqualTo("listening");
            return p;
        } catch (RuntimeException | AssertionError e) {
            p.close();
            throw e;
        }
    }

    private static ChildProcess client(NetNs ns, TestCgroup cg, int count, int size, List<String> jvmArgs,
            String... targets) {
        String[] args = new String[targets.length + 2];
        args[0] = Integer.toString(count);
        args[1] = Integer.toString(size);
        System.arraycopy(targets, 0, args, 2, targets.length);
        ChildProcess p = readyIn(ns, cg, MixClient.class.getName(), jvmArgs, args);
        try {
            p.writeLine("go");
            assertThat(p.readLine(T)).as("stderr: %s", p).isEqualTo("connected");
            return p;
        } catch (RuntimeException | AssertionError e) {
            p.close();
            throw e;
        }
    }

    private static void round(ChildProcess client, int n) {
        client.writeLine("start");
        assertThat(client.readLine(T)).as("round %d; stderr: %s", n, client.stderr()).isEqualTo("ok " + n);
    }

    private static void end(ChildProcess client, ChildProcess... servers) {
        client.writeLine("end");
        assertThat(client.waitFor(T)).isZero();
        for (ChildProcess s : servers) {
            assertThat(s.readLine(T)).startsWith("done ");
        }
    }

    private static boolean hasPeer(List<ConnectionKey> keys, String address) {
        return keys.stream().anyMatch(k -> k.remote().getAddress().getHostAddress().equals(address)
                || k.local().getAddress().getHostAddress().equals(address));
    }

    @Test
    @Timeout(120)
    void anOutsidePeerNeverEntersTheMapWhileTheLocalPeerIsBypassed() throws Exception {
        try (NetNs a = NetNs.create(); NetNs b = NetNs.create(); NetNs c = NetNs.create();
             TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path());
             LocalBypass bypass = LocalBypass.attach(cgroup)) {
            NetNs.vethPair(a, "10.0.0.1/24", b, "10.0.0.2/24");
            NetNs.vethPair(c, "10.0.1.1/24", b, "10.0.1.2/24");
            try (ChildProcess local = server(a, cg, "10.0.0.1", 7200);
                 ChildProcess outside = server(c, null, "10.0.1.1", 7201); // a process outside the cgroup
                 ChildProcess client = client(b, cg, 500, 1000, List.of(), "10.0.0.1:7200", "10.0.1.1:7201")) {
                List<ConnectionKey> keys = bypass.keys();
                assertThat(keys).as("both ends of the local connection, nothing of the outside one").hasSize(2);
                assertThat(hasPeer(keys, "10.0.1.1")).isFalse();
                round(client, 1);
                assertThat(bypass.keys()).containsExactlyInAnyOrderElementsOf(keys);
                end(client, local, outside);
            }
            LocalBypass.Stats s = bypass.stats();
            // the local connection's bytes, both ways, all redirected
            assertThat(s.redirectedBytes()).isEqualTo(2L * 500 * 1000);
            // the sk_msg program never saw a message of the outside connection: it was never on that path
            assertThat(s.passedMessages()).isZero();
            assertThat(s.socketsInserted()).isEqualTo(2);
            assertThat(s.socketsNotLocal()).isEqualTo(1); // the client's socket to the outside server
            assertThat(bypass.sockets()).isZero();
        }
    }

    @Test
    @Timeout(120)
    void aClientOutsideTheCgroupIsNotBypassedWithABypassedServer() throws Exception {
        try (NetNs a = NetNs.create(); NetNs b = NetNs.create();
             TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path());
             LocalBypass bypass = LocalBypass.attach(cgroup)) {
            NetNs.vethPair(a, "10.0.0.1/24", b, "10.0.0.2/24");
            try (ChildProcess server = server(a, cg, "10.0.0.1", 7210);
                 ChildProcess client = client(b, null, 200, 100, List.of(), "10.0.0.1:7210")) {
                assertThat(bypass.keys()).isEmpty();
                round(client, 1);
                end(client, server);
            }
            LocalBypass.Stats s = bypass.stats();
            assertThat(s.redirectedMessages()).isZero();
            assertThat(s.passedMessages()).isZero();
            assertThat(s.socketsNotLocal()).isEqualTo(1); // the server's socket
        }
    }

    @Test
    @Timeout(120)
    void processesInTwoSiblingCgroupsAreBypassed() throws Exception {
        try (NetNs a = NetNs.create(); NetNs b = NetNs.create();
             TestCgroup x = TestCgroup.create(); TestCgroup y = TestCgroup.create();
             Cgroup cx = Cgroup.open(x.path()); Cgroup cy = Cgroup.open(y.path());
             LocalBypass bypass = LocalBypass.builder().cgroup(cx).cgroup(cy).attach()) {
            NetNs.vethPair(a, "10.0.0.1/24", b, "10.0.0.2/24");
            try (ChildProcess server = server(a, x, "10.0.0.1", 7220);
                 ChildProcess client = client(b, y, 300, 64, List.of(), "10.0.0.1:7220")) {
                assertThat(bypass.sockets()).isEqualTo(2);
                round(client, 1);
                end(client, server);
            }
            assertThat(bypass.stats().redirectedBytes()).isEqualTo(2L * 300 * 64);
        }
    }

    @Test
    @Timeout(120)
    void aDualStackServerAndAnIpv4OnlyClientAreBypassed() throws Exception {
        // the JDK's default sockets are AF_INET6 (v4-mapped addresses); -Djava.net.preferIPv4Stack=true
        // gives AF_INET sockets, as an IPv4-only C program has
        List<String> v4only = List.of("-Djava.net.preferIPv4Stack=true");
        try (NetNs a = NetNs.create(); NetNs b = NetNs.create();
             TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path());
             LocalBypass bypass = LocalBypass.attach(cgroup)) {
            NetNs.vethPair(a, "10.0.0.1/24", b, "10.0.0.2/24");
            // dual-stack server (bound to ::), IPv4-only client
            try (ChildProcess server = server(a, cg, "::", 7230);
                 ChildProcess client = client(b, cg, 300, 64, v4only, "10.0.0.1:7230")) {
                List<ConnectionKey> keys = bypass.keys();
                assertThat(keys).hasSize(2).allSatisfy(k -> assertThat(k.family()).isEqualTo(ConnectionKey.AF_INET));
                assertThat(keys).contains(ConnectionKey.of(new InetSocketAddress("10.0.0.1", 7230),
                        keys.stream().filter(k -> k.local().getPort() == 7230).findFirst().orElseThrow().remote()));
                round(client, 1);
                end(client, server);
            }
            // IPv4-only server, dual-stack client (connects from an AF_INET6 socket to ::ffff:10.0.0.1)
            try (ChildProcess server = server(a, cg, "10.0.0.1", 7231, v4only.get(0));
                 ChildProcess client = client(b, cg, 300, 64, List.of(), "10.0.0.1:7231")) {
                assertThat(bypass.sockets()).isEqualTo(2);
                round(client, 1);
                end(client, server);
            }
            assertThat(bypass.stats().redirectedBytes()).isEqualTo(2 * 2L * 300 * 64);
            assertThat(bypass.stats().passedMessages()).isZero();
        }
    }

    @Test
    @Timeout(120)
    void ipv6AndIpv4ConnectionsOfOneProcessAreBothBypassed() throws Exception {
        try (NetNs a = NetNs.create(); NetNs b = NetNs.create();
             TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path());
             LocalBypass bypass = LocalBypass.attach(cgroup)) {
            NetNs.Veth veth = NetNs.vethPair(a, "10.0.0.1/24", b, "10.0.0.2/24");
            a.run("ip", "-6", "addr", "add", "2001:db8::1/64", "dev", veth.ifA(), "nodad");
            b.run("ip", "-6", "addr", "add", "2001:db8::2/64", "dev", veth.ifB(), "nodad");
            try (ChildProcess s6 = server(a, cg, "2001:db8::1", 7240);
                 ChildProcess s4 = server(a, cg, "10.0.0.1", 7241);
                 ChildProcess client = client(b, cg, 200, 128, List.of(), "[2001:db8::1]:7240", "10.0.0.1:7241")) {
                List<ConnectionKey> keys = bypass.keys();
                assertThat(keys).hasSize(4);
                assertThat(keys.stream().filter(k -> k.family() == ConnectionKey.AF_INET6)).hasSize(2);
                round(client, 1);
                end(client, s6, s4);
            }
            assertThat(bypass.stats().redirectedBytes()).isEqualTo(2 * 2L * 200 * 128);
        }
    }

    @Test
    @Timeout(120)
    void portAndCidrScopeChangesApplyLiveToNewConnections() throws Exception {
        try (NetNs a = NetNs.create(); NetNs b = NetNs.create();
             TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path());
             LocalBypass bypass = LocalBypass.builder().cgroup(cgroup)
                     .scope(BypassScope.all().ports("6379,8000-8100")).attach()) {
            NetNs.vethPair(a, "10.0.0.1/24", b, "10.0.0.2/24");
            // 7250 is out of scope, 8050 in
            try (ChildProcess out = server(a, cg, "10.0.0.1", 7250); ChildProcess in = server(a, cg, "10.0.0.1", 8050);
                 ChildProcess client = client(b, cg, 100, 100, List.of(), "10.0.0.1:7250", "10.0.0.1:8050")) {
                List<ConnectionKey> keys = bypass.keys();
                assertThat(keys).hasSize(2).allSatisfy(k -> assertThat(
                        k.local().getPort() == 8050 || k.remote().getPort() == 8050).isTrue());
                round(client, 1);
                end(client, out, in);
            }
            assertThat(bypass.stats().synsOutOfScope()).isEqualTo(1);
            assertThat(bypass.stats().redirectedBytes()).isEqualTo(2L * 100 * 100);

            // live: now only 7250, and only within 10.0.0.0/24
            bypass.scope(BypassScope.all().ports(7250).cidrs("10.0.0.0/24"));
            try (ChildProcess s = server(a, cg, "10.0.0.1", 7250); ChildProcess o = server(a, cg, "10.0.0.1", 8050);
                 ChildProcess client = client(b, cg, 100, 100, List.of(), "10.0.0.1:7250", "10.0.0.1:8050")) {
                assertThat(bypass.keys()).hasSize(2).allSatisfy(k -> assertThat(
                        k.local().getPort() == 7250 || k.remote().getPort() == 7250).isTrue());
                round(client, 1);
                end(client, s, o);
            }
            // a prefix that holds neither end: nothing is bypassed
            bypass.scope(BypassScope.all().cidrs("192.0.2.0/24", "2001:db8::/64"));
            try (ChildProcess s = server(a, cg, "10.0.0.1", 7252);
                 ChildProcess client = client(b, cg, 100, 100, List.of(), "10.0.0.1:7252")) {
                assertThat(bypass.keys()).isEmpty();
                round(client, 1);
                end(client, s);
            }
            // back to everything
            bypass.scope(BypassScope.all());
            try (ChildProcess s = server(a, cg, "10.0.0.1", 7253);
                 ChildProcess client = client(b, cg, 100, 100, List.of(), "10.0.0.1:7253")) {
                assertThat(bypass.sockets()).isEqualTo(2);
                round(client, 1);
                end(client, s);
            }
            LocalBypass.Stats st = bypass.stats();
            assertThat(st.synsOutOfScope()).isEqualTo(3);
            assertThat(st.redirectedBytes()).isEqualTo(3 * 2L * 100 * 100);
            assertThat(st.passedMessages()).isZero();
        }
    }

    @Test
    @Timeout(120)
    void closingTheBypassWhileAConnectionExchangesDataLosesNothing() throws Exception {
        try (NetNs a = NetNs.create(); NetNs b = NetNs.create();
             TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path())) {
            NetNs.vethPair(a, "10.0.0.1/24", b, "10.0.0.2/24");
            LocalBypass bypass = LocalBypass.attach(cgroup);
            try (ChildProcess server = server(a, cg, "10.0.0.1", 7260);
                 ChildProcess client = client(b, cg, 20000, 100, List.of(), "10.0.0.1:7260")) {
                assertThat(bypass.sockets()).isEqualTo(2);
                round(client, 1);
                assertThat(bypass.stats().redirectedBytes()).isEqualTo(2L * 20000 * 100);
                client.writeLine("start"); // round 2: the bypass stops in the middle of it
                long before;
                do {
                    Thread.sleep(5);
                    before = bypass.stats().redirectedBytes();
                } while (before == 2L * 20000 * 100);
                bypass.close();
                assertThat(cgroup.attachedPrograms(org.sockmap4j.AttachType.CGROUP_SOCK_OPS)).isEmpty();
                // every echo of round 2 came back intact, the later ones through TCP
                assertThat(client.readLine(T)).as("stderr: %s", client.stderr()).isEqualTo("ok 2");
                round(client, 3);
                end(client, server);
            } finally {
                bypass.close();
            }
        }
    }

    @Test
    @Timeout(180)
    void theJdkHttpServerAndABlockingClientExchange10000RequestsWithoutAStall() throws Exception {
        try (NetNs a = NetNs.create(); NetNs b = NetNs.create();
             TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path());
             LocalBypass bypass = LocalBypass.attach(cgroup)) {
            NetNs.vethPair(a, "10.0.0.1/24", b, "10.0.0.2/24");
            String http = HttpPeer.class.getName();
            try (ChildProcess server = readyIn(a, cg, http, List.of(), "server", "10.0.0.1", "8080");
                 ChildProcess client = readyIn(b, cg, http, List.of(), "client", "10.0.0.1", "8080", "10000")) {
                server.writeLine("go");
                assertThat(server.readLine(T)).isEqualTo("listening");
                client.writeLine("go");
                String ok = client.readLine(Duration.ofSeconds(150));
                // every request answered within its 1 s bound, body checked
                assertThat(ok).as("stderr: %s", client.stderr()).startsWith("ok 10000 ");
                int connections = Integer.parseInt(ok.split(" ")[2]);
                System.out.println("HttpPeer client: " + ok + " (requests, connections, max us, warm-up max us)");
                assertThat(client.waitFor(T)).isZero();
                server.writeLine("end");
                LocalBypass.Stats s = bypass.stats();
                // every connection was bypassed, both ends, and its traffic redirected
                assertThat(s.socketsInserted()).isEqualTo(2L * connections);
                assertThat(s.socketsNotLocal()).isZero();
                assertThat(s.redirectedBytes()).isGreaterThan(10000L * HttpPeer.BODY);
                // each client sends its request right after connect(): one that does so before its
                // server socket is in the map (seen in TCG guests: 2 of 272) falls back to TCP for
                // its sends, and only then may messages pass
                assertThat(s.passedMessages() == 0 || s.socketsFellBack() > 0).as("%s", s).isTrue();
            }
        }
    }

    @Test
    @Timeout(120)
    void aClientThatSendsBeforeItsServerSocketExistsKeepsItsBytesInOrder() throws Exception {
        // TCP_DEFER_ACCEPT: the server socket (and its map entry) comes with the first data, which
        // the client therefore sent through TCP; a later message redirected into the server's
        // queue would be read before it
        try (NetNs a = NetNs.create(); NetNs b = NetNs.create();
             TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path());
             LocalBypass bypass = LocalBypass.attach(cgroup)) {
            NetNs.vethPair(a, "10.0.0.1/24", b, "10.0.0.2/24");
            String defer = DeferPeer.class.getName();
            try (ChildProcess server = readyIn(a, cg, defer, List.of(), "server", "10.0.0.1", "7270");
                 ChildProcess client = readyIn(b, cg, defer, List.of(), "client", "10.0.0.1", "7270")) {
                server.writeLine("go");
                assertThat(server.readLine(T)).as("stderr: %s", server.stderr()).isEqualTo("listening");
                client.writeLine("go");
                assertThat(client.readLine(T)).isEqualTo("sent 1");
                assertThat(server.readLine(T)).isEqualTo("accepted");
                assertThat(bypass.sockets()).as("both ends are in the map by now").isEqualTo(2);
                client.writeLine("send");
                assertThat(client.readLine(T)).isEqualTo("sent 2");
                server.writeLine("read");
                assertThat(server.readLine(T)).isEqualTo("order ok");
                client.writeLine("end");
                assertThat(client.waitFor(T)).isZero();
            }
            LocalBypass.Stats s = bypass.stats();
            assertThat(s.socketsFellBack()).isEqualTo(1);
            assertThat(s.passedBytes()).isEqualTo(2000);
            assertThat(s.redirectedMessages()).isZero();
        }
    }
}
