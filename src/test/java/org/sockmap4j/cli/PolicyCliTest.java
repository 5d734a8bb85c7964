package org.sockmap4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import org.sockmap4j.programs.PolicyClient;
import org.sockmap4j.testing.ChildProcess;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.NetNs;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TestCgroup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.sockmap4j.cli.Cli.T;

/**
 * {@code sockmap policy --cgroup DIR --deny CIDR...}: a process in DIR (inside a namespace of the
 * test's own, where the test addresses are on lo) gets EACCES from send(2) to a denied address and
 * sends fine elsewhere; on a signal the command reports what it dropped, detaches and exits 0.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
class PolicyCliTest {
    private static final String EACCES = "errno 13";
    private static final String STOPPED = "stopped dropped_msgs=(\\d+) passed_msgs=(\\d+)";

    @Test
    @Timeout(120)
    void deniedCidrGetsEaccesOthersPassAndSigtermDetaches() throws Exception {
        try (TestCgroup cg = TestCgroup.create(); NetNs ns = NetNs.create();
             ChildProcess cli = Cli.start("policy", "--cgroup", cg.path().toString(), "--deny", "192.0.2.0/24",
                     "--duration", "90")) {
            assertThat(cli.readLine(T)).isEqualTo("ready policy cgroup=" + cg.path() + " deny=192.0.2.0/24");
            int opsId = Cli.sockOpsProgram(cg.path()).orElseThrow(
                    () -> new AssertionError("no sock_ops program on " + cg.path() + " after ready")).id();
            ns.run("ip", "addr", "add", "192.0.2.1/32", "dev", "lo");
            try (ChildProcess c = ChildProcess.startIn(ns, PolicyClient.class, "7001")) {
                assertThat(c.readLine(T)).isEqualTo("ready");
                cg.addProcess(c.pid());
                c.writeLine("send 192.0.2.1");
                assertThat(c.readLine(T)).isEqualTo(EACCES);
                c.writeLine("send 127.0.0.1");
                assertThat(c.readLine(T)).isEqualTo("sent 1");
                c.writeLine("quit");
                assertThat(c.waitFor(T)).isZero();
            }
            Cli.signal(cli, "TERM");
            String stopped = cli.readLine(T);
            assertThat(stopped).matches(STOPPED);
            assertThat(Cli.field(stopped, "dropped_msgs")).isEqualTo(1);
            assertThat(Cli.field(stopped, "passed_msgs")).isGreaterThanOrEqualTo(1);
            assertThat(Cli.exitStatus(cli, T)).as("exit status; stderr: %s", cli.stderr()).isZero();
            assertThat(cli.stderr()).isEmpty();
            Cli.assertNothingAttached(cg.path());
            Cli.assertProgramGone(opsId);
        }
    }

    @Test
    @Timeout(120)
    void repeatedDenyCoversIpv4AndIpv6AndSigintStops() throws Exception {
        try (TestCgroup cg = TestCgroup.create(); NetNs ns = NetNs.create();
             ChildProcess cli = Cli.start("policy", "--cgroup", cg.path().toString(), "--deny", "192.0.2.0/24",
                     "--deny", "2001:db8::/32", "--deny", "198.51.100.7")) {
            assertThat(cli.readLine(T)).isEqualTo("ready policy cgroup=" + cg.path()
                    + " deny=192.0.2.0/24,2001:db8::/32,198.51.100.7");
            ns.run("ip", "addr", "add", "192.0.2.1/32", "dev", "lo");
            ns.run("ip", "addr", "add", "198.51.100.7/32", "dev", "lo");
            ns.run("ip", "addr", "add", "198.51.100.8/32", "dev", "lo");
            ns.run("ip", "addr", "add", "2001:db8::1/128", "dev", "lo", "nodad");
            ns.run("ip", "addr", "add", "2001:db9::1/128", "dev", "lo", "nodad");
            try (ChildProcess c = ChildProcess.startIn(ns, PolicyClient.class, "7002")) {
                assertThat(c.readLine(T)).isEqualTo("ready");
                cg.addProcess(c.pid());
                for (String[] expect : new String[][] {
                        {"192.0.2.1", EACCES}, {"2001:db8::1", EACCES}, {"198.51.100.7", EACCES},
                        {"198.51.100.8", "sent 1"}, {"2001:db9::1", "sent 1"}, {"127.0.0.1", "sent 1"},
                        {"::1", "sent 1"}}) {
                    c.writeLine("send " + expect[0]);
                    assertThat(c.readLine(T)).as("send to %s", expect[0]).isEqualTo(expect[1]);
                }
                c.writeLine("quit");
                assertThat(c.waitFor(T)).isZero();
            }
            assertThat(cli.isAlive()).as("runs until a signal").isTrue();
            Cli.signal(cli, "INT");
            String stopped = cli.readLine(T);
            assertThat(stopped).matches(STOPPED);
            assertThat(Cli.field(stopped, "dropped_msgs")).isEqualTo(3);
            assertThat(Cli.field(stopped, "passed_msgs")).isGreaterThanOrEqualTo(4);
            assertThat(Cli.exitStatus(cli, T)).as("exit status; stderr: %s", cli.stderr()).isZero();
            Cli.assertNothingAttached(cg.path());
        }
    }
}
