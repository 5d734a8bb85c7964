package org.sockmap4j.programs;

import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.Cgroup;
import org.sockmap4j.recipes.EgressPolicy;
import org.sockmap4j.testing.ChildProcess;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.NetNs;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TestCgroup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The talk's egress policy: in a namespace of the test's own where 192.0.2.1 is on lo, a process
 * in the policed cgroup gets EACCES sending to a denied address and not to others; deny-list edits
 * apply without re-attaching.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
class EgressPolicyTest {
    private static final Duration T = Duration.ofSeconds(30);
    private static final String EACCES = "errno 13";

    @Test
    @Timeout(120)
    void deniedDestinationsGetEaccesAndEditsApplyLive() throws Exception {
        try (NetNs ns = NetNs.create(); TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path());
             EgressPolicy policy = EgressPolicy.attach(cgroup).deny("192.0.2.0/24")) {
            ns.run("ip", "addr", "add", "192.0.2.1/32", "dev", "lo").check();
            try (ChildProcess c = ChildProcess.startIn(ns, PolicyClient.class, "7001")) {
                assertThat(c.readLine(T)).isEqualTo("ready");
                cg.addProcess(c.pid());
                c.writeLine("send 192.0.2.1");
                assertThat(c.readLine(T)).isEqualTo(EACCES);
                c.writeLine("send 127.0.0.1");
                assertThat(c.readLine(T)).isEqualTo("sent 1");
                assertThat(policy.allow("192.0.2.0/24")).isTrue();
                c.writeLine("send 192.0.2.1");
                assertThat(c.readLine(T)).isEqualTo("sent 1");
                policy.deny("192.0.2.1");
                c.writeLine("send 192.0.2.1");
                assertThat(c.readLine(T)).isEqualTo(EACCES);
                c.writeLine("quit");
            }
            var s = policy.stats();
            assertThat(s.droppedMessages()).isEqualTo(2);
            assertThat(s.passedMessages()).isGreaterThanOrEqualTo(2);
        }
    }

    @Test
    void badCidrsAreRejectedBeforeAnyChange() throws Exception {
        try (TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path());
             EgressPolicy policy = EgressPolicy.attach(cgroup)) {
            assertThatThrownBy(() -> policy.deny("192.0.2.0/33")).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> policy.deny("not-an-address")).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> policy.deny("")).isInstanceOf(IllegalArgumentException.class);
            assertThat(policy.allow("192.0.2.0/24")).isFalse();
        }
    }
}
