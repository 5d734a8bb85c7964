package org.sockmap4j.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Tests of the harness pieces that need no privilege. */
@ExtendWith(FdLeakCheck.class)
class HarnessUnitTest {

    /** Child main: prints "ready PID NETNS", then echoes stdin lines until "exit". */
    public static final class Echo {
        private Echo() {
        }

        /** Entry point. */
        public static void main(String[] args) throws Exception {
            System.out.println("ready " + ProcessHandle.current().pid() + " "
                    + Files.readSymbolicLink(Path.of("/proc/self/ns/net")) + " " + String.join(",", args));
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
            String line;
            while ((line = in.readLine()) != null && !line.equals("exit")) {
                System.out.println("echo " + line);
            }
            System.err.println("bye");
        }
    }

    @Test
    void parsesMountinfoLines() {
        MountInfo m = MountInfo.parse("42 23 0:39 / /sys/fs/bpf rw,relatime shared:7 master:2 - bpf bpf rw");
        assertThat(m.mountId()).isEqualTo(42);
        assertThat(m.parentId()).isEqualTo(23);
        assertThat(m.root()).isEqualTo("/");
        assertThat(m.mountPoint()).isEqualTo(Path.of("/sys/fs/bpf"));
        assertThat(m.fsType()).isEqualTo("bpf");
        assertThat(m.source()).isEqualTo("bpf");

        MountInfo escaped = MountInfo.parse("7 1 0:5 /sub /tmp/a\\040b rw - cgroup2 none rw,nsdelegate");
        assertThat(escaped.mountPoint()).isEqualTo(Path.of("/tmp/a b"));
        assertThat(escaped.root()).isEqualTo("/sub");
        assertThat(escaped.fsType()).isEqualTo("cgroup2");
        assertThat(MountInfo.unescape("a\\134b\\011")).isEqualTo("a\\b\t");
        assertThat(m.device()).isEqualTo("0:39");
        assertThat(m.stDev()).isEqualTo(39);
        assertThat(MountInfo.parse("1 0 259:1 / / rw - ext4 /dev/x rw").stDev()).isEqualTo((259L << 8) | 1);
    }

    @Test
    void procMountIsVisible() {
        assertThat(MountInfo.at(Path.of("/proc"))).get().satisfies(m -> assertThat(m.isVisible()).isTrue());
    }

    @Test
    void decidesPrivilegeFromCapabilities() {
        long bpf = 1L << PrivilegedExtension.CAP_BPF;
        long net = 1L << PrivilegedExtension.CAP_NET_ADMIN;
        long sys = 1L << PrivilegedExtension.CAP_SYS_ADMIN;
        assertThat(PrivilegedExtension.hasPrivilegedCaps(bpf | net)).isTrue();
        assertThat(PrivilegedExtension.hasPrivilegedCaps(sys | net)).isTrue();
        assertThat(PrivilegedExtension.hasPrivilegedCaps(bpf)).isFalse();
        assertThat(PrivilegedExtension.hasPrivilegedCaps(net)).isFalse();
        assertThat(PrivilegedExtension.computePrivileged(List.of("Uid:\t0\t0\t0\t0", "CapEff:\t0000000000000000")))
                .as("root without capabilities").isFalse();
        assertThat(PrivilegedExtension.computePrivileged(List.of("Uid:\t1000\t1000\t1000\t1000", "CapEff:\t000001fffeffffff")))
                .isTrue();
        assertThat(PrivilegedExtension.computePrivileged(List.of("Uid:\t0\t1000\t1000\t1000"))).as("only the real uid is 0").isFalse();
        assertThat(PrivilegedExtension.computePrivileged(List.of("Uid:\t0\t0\t0\t0"))).isTrue();
    }

    @Test
    void execCapturesOutputAndStatus() {
        Exec.Result r = Exec.run("sh", "-c", "echo out; echo err >&2; exit 3");
        assertThat(r.exitCode()).isEqualTo(3);
        assertThat(r.stdout()).isEqualTo("out\n");
        assertThat(r.stderr()).isEqualTo("err\n");
        assertThatThrownBy(r::check).isInstanceOf(IllegalStateException.class).hasMessageContaining("err");
        assertThat(Exec.check("echo", "hi")).isEqualTo("hi\n");
    }

    @Test
    void execKillsCommandsThatOverrunTheirTimeout() {
        assertThatThrownBy(() -> Exec.run(new ProcessBuilder("sleep", "30"), Duration.ofMillis(200)))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("did not finish");
    }

    @Test
    void fdLeakCheckSeesAnOpenSocketUntilItIsClosed() throws Exception {
        FdLeakCheck check = new FdLeakCheck();
        Map<Integer, String> before = FdLeakCheck.snapshot();
        ServerSocketChannel server = ServerSocketChannel.open();
        try {
            server.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            assertThat(check.leaksSince(before).values()).anyMatch(t -> t.startsWith("socket:["));
            assertThatThrownBy(() -> check.assertNoLeaksSince(before, "this block"))
                    .isInstanceOf(AssertionError.class)
                    .hasMessageContaining("opened during this block and not closed")
                    .hasMessageContaining("socket:[");
        } finally {
            server.close();
        }
        check.assertNoLeaksSince(before, "this block");
        assertThat(check.ignoring(t -> t.startsWith("socket:")).leaksSince(Map.of()).values())
                .noneMatch(t -> t.startsWith("socket:"));
    }

    @Test
    void fdLeakCheckIgnoresJvmFiles() {
        assertThat(FdLeakCheck.ignoredByDefault("/root/.m2/x/junit.jar")).isTrue();
        assertThat(FdLeakCheck.ignoredByDefault("/proc/123/fd")).isTrue();
        assertThat(FdLeakCheck.ignoredByDefault("/dev/urandom")).isTrue();
        assertThat(FdLeakCheck.ignoredByDefault("anon_inode:bpf-map")).isFalse();
        assertThat(FdLeakCheck.ignoredByDefault("anon_inode:bpf-prog")).isFalse();
        assertThat(FdLeakCheck.ignoredByDefault("anon_inode:bpf_link")).isFalse();
        assertThat(FdLeakCheck.ignoredByDefault("socket:[1234]")).isFalse();
        assertThat(FdLeakCheck.ignoredByDefault("anon_inode:[eventpoll]")).isFalse();
    }

    @Test
    void childProcessTalksOverStdio() {
        long pid;
        ChildProcess child = ChildProcess.start(Echo.class, "a", "b");
        try (child) {
            pid = child.pid();
            String ready = child.readLine(Duration.ofSeconds(30));
            assertThat(ready).startsWith("ready " + pid + " net:[").endsWith(" a,b");
            child.writeLine("hello");
            assertThat(child.readLine(Duration.ofSeconds(10))).isEqualTo("echo hello");
            assertThatThrownBy(() -> child.readLine(Duration.ofMillis(100)))
                    .isInstanceOf(AssertionError.class).hasMessageContaining("printed no line");
            child.writeLine("exit");
            assertThat(child.waitFor(Duration.ofSeconds(10))).isZero();
            assertThatThrownBy(() -> child.readLine(Duration.ofSeconds(5)))
                    .isInstanceOf(AssertionError.class).hasMessageContaining("closed its output");
            assertThat(child.stderr()).contains("bye");
        }
        assertThat(child.isAlive()).isFalse();
        assertThat(ProcessHandle.of(pid)).isEmpty();
    }

    @Test
    void childProcessIsKilledOnClose() {
        ChildProcess child = ChildProcess.start(Echo.class);
        try (child) {
            assertThat(child.readLine(Duration.ofSeconds(30))).startsWith("ready ");
        }
        assertThat(child.isAlive()).isFalse();
    }

    @Test
    void childProcessFailureShowsStderr() {
        try (ChildProcess child = ChildProcess.builder("org.sockmap4j.testing.NoSuchMain").start()) {
            assertThatThrownBy(() -> child.readLine(Duration.ofSeconds(30)))
                    .isInstanceOf(AssertionError.class)
                    .hasMessageContaining("closed its output")
                    .hasMessageContaining("NoSuchMain");
        }
    }

    /** Child main: "inner" prints its SigIgn mask; "outer" also starts an inner one through ChildProcess. */
    public static final class SignalDispositions {
        private SignalDispositions() {
        }

        static String sigIgn() throws Exception {
            return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("SigIgn:"))
                    .findFirst().orElseThrow().substring(7).strip();
        }

        /** Entry point. */
        public static void main(String[] args) throws Exception {
            if (args[0].equals("inner")) {
                System.out.println(sigIgn());
                return;
            }
            try (ChildProcess inner = ChildProcess.start(SignalDispositions.class, "inner")) {
                System.out.println("outer " + sigIgn() + " inner " + inner.readLine(Duration.ofSeconds(30)));
            }
        }
    }

    /**
     * A test JVM started as a shell's background job ignores SIGINT, and so would every child
     * JVM it starts: the CLI tests that stop a child with SIGINT then waited in vain. ChildProcess
     * gives its child the default disposition back.
     */
    @Test
    void aChildHandlesSigintEvenWhenItsParentIgnoresIt() throws Exception {
        List<String> cmd = new ArrayList<>(List.of("sh", "-c", "trap '' INT; exec \"$@\"", "sh"));
        List<String> outerJvm = ChildProcess.builder(SignalDispositions.class.getName()).args("outer").command();
        if (outerJvm.get(0).equals("env")) { // this JVM ignores SIGINT itself: the trap must come after the reset
            outerJvm = outerJvm.subList(2, outerJvm.size());
        }
        cmd.addAll(outerJvm);
        Process outer = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String line;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(outer.getInputStream()))) {
            line = r.readLine();
        } finally {
            outer.destroyForcibly();
            outer.waitFor();
        }
        assertThat(line).as("the outer child's report").startsWith("outer ");
        String[] f = line.split(" ");
        assertThat(Long.parseUnsignedLong(f[1], 16) & 0b10).as("the outer JVM ignores SIGINT (%s)", line).isNotZero();
        assertThat(Long.parseUnsignedLong(f[3], 16) & 0b10).as("its child does not (%s)", line).isZero();
    }
}
