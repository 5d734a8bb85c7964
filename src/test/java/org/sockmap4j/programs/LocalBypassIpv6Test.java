package org.sockmap4j.programs;

import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.Cgroup;
import org.sockmap4j.recipes.LocalBypass;
import org.sockmap4j.testing.ChildProcess;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.NetNs;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TestCgroup;

import static org.assertj.core.api.Assertions.assertThat;

/** The LocalBypass recipe between two namespaces over IPv6 (documentation prefix 2001:db8::/64). */
@Privileged
@ExtendWith(FdLeakCheck.class)
class LocalBypassIpv6Test {
    private static final Duration T = Duration.ofSeconds(30);

    @Test
    @Timeout(120)
    void ipv6ConnectionsAreBypassedToo() throws Exception {
        try (NetNs a = NetNs.create(); NetNs b = NetNs.create(); TestCgroup cg = TestCgroup.create();
             Cgroup cgroup = Cgroup.open(cg.path()); LocalBypass bypass = LocalBypass.attach(cgroup)) {
            NetNs.Veth veth = NetNs.vethPair(a, "10.0.0.1/24", b, "10.0.0.2/24");
            a.run("ip", "-6", "addr", "add", "2001:db8::1/64", "dev", veth.ifA(), "nodad").check();
            b.run("ip", "-6", "addr", "add", "2001:db8::2/64", "dev", veth.ifB(), "nodad").check();
            try (ChildProcess server = ChildProcess.startIn(a, PingPong.class, "server", "2001:db8::1", "7002");
                 ChildProcess client = ChildProcess.startIn(b, PingPong.class, "client", "2001:db8::1", "7002",
                         "500", "64")) {
                assertThat(server.readLine(T)).isEqualTo("ready");
                assertThat(client.readLine(T)).isEqualTo("ready");
                cg.addProcess(server.pid());
                cg.addProcess(client.pid());
                server.writeLine("go");
                assertThat(server.readLine(T)).isEqualTo("listening");
                client.writeLine("go");
                assertThat(client.readLine(T)).isEqualTo("connected");
                assertThat(bypass.sockets()).isEqualTo(2);
                client.writeLine("start");
                assertThat(client.readLine(T)).isEqualTo("ok 500");
                client.waitFor(T);
                assertThat(server.readLine(T)).isEqualTo("done 32000");
            }
            assertThat(bypass.stats().redirectedBytes()).isEqualTo(2 * 32000L);
            assertThat(bypass.sockets()).isZero();
        }
    }
}
