package org.sockmap4j.programs;

import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.Attachment;
import org.sockmap4j.AttachType;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Cgroup;
import org.sockmap4j.ConnectionKey;
import org.sockmap4j.Counters;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockOpsProgram;
import org.sockmap4j.testing.ChildProcess;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.NetNs;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TestCgroup;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The talk's container-networking bypass: namespaces A and B joined by veth, server in A, client
 * in B, both in one cgroup with the bundled sock_ops + sk_msg programs attached.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
class LocalBypassTest {
    private static final Duration T = Duration.ofSeconds(30);

    @Test
    @Timeout(120)
    void netnsToNetnsTrafficIsRedirectedAndArrivesIntact() throws Exception {
        try (NetNs a = NetNs.create(); NetNs b = NetNs.create();
             TestCgroup cg = TestCgroup.create();
             Cgroup cgroup = Cgroup.open(cg.path());
             BpfObject obj = BpfObject.openBundled("bypass").load();
             SockHash<ConnectionKey> hash = obj.sockHash("sock_hash", ConnectionKey.codec());
             Counters counters = obj.counters("counters");
             SkMsgProgram msg = obj.skMsg("bypass_sk_msg");
             SockOpsProgram ops = obj.sockOps("bypass_sockops");
             Attachment msgAttach = msg.attach(hash);
             Attachment opsAttach = ops.attach(cgroup)) {
            NetNs.vethPair(a, "10.0.0.1/24", b, "10.0.0.2/24");
            if (KernelFeatures.probe().has(KernelFeatures.Feature.PROG_QUERY_SOCKMAP)) {
                // socket maps answer BPF_PROG_QUERY from 5.19; the redirect counters below prove it anyway
                assertThat(hash.attachedPrograms(AttachType.SK_MSG_VERDICT)).containsExactly(msg.id());
            }
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).containsExactly(ops.id());

            try (ChildProcess server = ChildProcess.startIn(a, PingPong.class, "server", "10.0.0.1", "7000");
                 ChildProcess client = ChildProcess.startIn(b, PingPong.class, "client", "10.0.0.1", "7000",
                         "2000", "100")) {
                assertThat(server.readLine(T)).isEqualTo("ready");
                assertThat(client.readLine(T)).isEqualTo("ready");
                cg.addProcess(server.pid());
                cg.addProcess(client.pid());
                server.writeLine("go");
                assertThat(server.readLine(T)).isEqualTo("listening");
                client.writeLine("go");
                assertThat(client.readLine(T)).isEqualTo("connected");
                // both ends were inserted by sock_ops at ESTABLISHED
                assertThat(hash.keys()).hasSize(2);
                client.writeLine("start");
                assertThat(client.readLine(T)).isEqualTo("ok 2000");
                client.waitFor(T);
                assertThat(server.readLine(T)).isEqualTo("done 200000");
            }
            Counters.Snapshot c = counters.snapshot();
            // every message of both directions went through the redirect, none the stack
            assertThat(c.redirectedBytes()).isEqualTo(2 * 200000L);
            assertThat(c.redirectedMessages()).isGreaterThanOrEqualTo(2 * 2000L);
            assertThat(c.droppedMessages()).isZero();
            // closed sockets left the map by themselves
            assertThat(hash.keys()).isEmpty();
        }
    }
}
