package org.sockmap4j.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Tests of the privileged harness pieces: bpffs, cgroups, network namespaces. */
@Privileged
@ExtendWith({FdLeakCheck.class, TempBpfDirExtension.class})
class HarnessSelfTest {

    private static final List<Path> INJECTED = new ArrayList<>();

    @AfterAll
    static void injectedDirsWereRemoved() {
        // AfterEach callbacks (TempBpfDirExtension) have run by now
        assertThat(INJECTED).allSatisfy(p -> assertThat(p).doesNotExist());
    }

    @Test
    void processIsPrivileged() {
        assertThat(PrivilegedExtension.isPrivileged()).isTrue();
    }

    // ---- bpffs ----

    @Test
    void bpffsIsMounted() {
        Path mount = BpfFs.ensureMounted();
        assertThat(BpfFs.isBpfMount(mount)).isTrue();
        assertThat(BpfFs.ensureMounted()).isSameAs(mount);
    }

    @Test
    void tempBpfDirIsRemovedWithItsPins() throws Throwable {
        Path dir;
        Path pin;
        try (TempBpfDir tmp = BpfFs.tempDir()) {
            dir = tmp.path();
            assertThat(dir).isDirectory().hasParent(BpfFs.ensureMounted());
            Path sub = Files.createDirectory(tmp.resolve("sub"));
            pin = sub.resolve("map");
            int fd = RawBpf.createArrayMap();
            try {
                RawBpf.pin(fd, pin);
            } finally {
                RawBpf.close(fd);
            }
            assertThat(pin).exists();
        }
        assertThat(pin).doesNotExist();
        assertThat(dir).doesNotExist();
    }

    @Test
    void fdLeakCheckSeesBpfMaps() throws Throwable {
        FdLeakCheck check = new FdLeakCheck();
        Map<Integer, String> before = FdLeakCheck.snapshot();
        int fd = RawBpf.createArrayMap();
        try {
            assertThat(check.leaksSince(before)).containsEntry(fd, "anon_inode:bpf-map");
        } finally {
            RawBpf.close(fd);
        }
        assertThat(check.leaksSince(before)).isEmpty();
    }

    @Test
    void injectsTempBpfDir(TempBpfDir dir) {
        INJECTED.add(dir.path());
        assertThat(dir.path()).isDirectory();
    }

    // ---- cgroups ----

    @Test
    void testCgroupHoldsProcessesAndIsRemoved() throws Exception {
        Path root = Cgroups.hierarchy();
        assertThat(root.resolve("cgroup.procs")).exists();
        Process sleeper = new ProcessBuilder("sleep", "60").start();
        try {
            Path path;
            try (TestCgroup cg = Cgroups.create()) {
                path = cg.path();
                assertThat(path).isDirectory().hasParent(root);
                cg.addProcess(sleeper.pid());
                assertThat(cg.processes()).containsExactly(sleeper.pid());
                assertThat(Files.readString(Path.of("/proc/" + sleeper.pid() + "/cgroup")))
                        .contains("0::/" + path.getFileName());
                Files.createDirectory(path.resolve("nested")); // a test's own sub-cgroup goes too
            }
            assertThat(path).doesNotExist();
            assertThat(sleeper.isAlive()).as("close() moves processes out, it does not kill them").isTrue();
            assertThat(Files.readAllLines(root.resolve("cgroup.procs"))).contains(Long.toString(sleeper.pid()));
        } finally {
            sleeper.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            closeStreams(sleeper);
        }
    }

    // ---- network namespaces ----

    @Test
    void netnsIsCreatedAndDeleted() {
        String name;
        try (NetNs ns = NetNs.create()) {
            name = ns.name();
            assertThat(name).startsWith("sm4j-");
            assertThat(Exec.check("ip", "netns", "list")).contains(name);
            assertThat(ns.path()).exists();
            assertThat(ns.run("ip", "-o", "link", "show", "lo").stdout()).contains("LOOPBACK,UP");
        }
        assertThat(Exec.check("ip", "netns", "list")).doesNotContain(name);
        assertThat(Path.of("/run/netns", name)).doesNotExist();
    }

    @Test
    void vethPairConnectsTwoNamespaces() {
        try (NetNs a = NetNs.create(); NetNs b = NetNs.create()) {
            NetNs.Veth veth = NetNs.vethPair(a, "10.0.0.1/24", b, "10.0.0.2");
            assertThat(veth.addrA()).isEqualTo("10.0.0.1");
            assertThat(veth.addrB()).isEqualTo("10.0.0.2");
            assertThat(a.run("ip", "-o", "-4", "addr", "show", "dev", veth.ifA()).stdout()).contains("inet 10.0.0.1/24");
            assertThat(b.run("ip", "-o", "-4", "addr", "show", "dev", veth.ifB()).stdout()).contains("inet 10.0.0.2/24");
            assertThat(a.run("ip", "-o", "link", "show", "dev", veth.ifA()).stdout()).contains("state UP");
            assertThat(b.run("ip", "-o", "link", "show", "dev", veth.ifB()).stdout()).contains("state UP");
            assertThat(Exec.check("ip", "-o", "link", "show")).doesNotContain(veth.ifA()).doesNotContain(veth.ifB());
        }
    }

    @Test
    void closingANetnsKillsItsProcesses() throws Exception {
        Process sleeper;
        try (NetNs ns = NetNs.create()) {
            sleeper = ns.exec("sleep", "60").start();
            closeStreams(sleeper);
            awaitPidIn(ns, sleeper.pid());
        }
        assertThat(sleeper.waitFor(10, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void childProcessRunsInsideANetns() throws Exception {
        String ourNetns = Files.readSymbolicLink(Path.of("/proc/self/ns/net")).toString();
        try (NetNs ns = NetNs.create(); ChildProcess child = ChildProcess.startIn(ns, HarnessUnitTest.Echo.class)) {
            String ready = child.readLine(Duration.ofSeconds(30));
            assertThat(ready).startsWith("ready " + child.pid() + " net:[").doesNotContain(ourNetns);
            assertThat(ns.pids()).contains(child.pid());
        }
    }

    private static void awaitPidIn(NetNs ns, long pid) throws InterruptedException {
        for (int i = 0; i < 100 && !ns.pids().contains(pid); i++) {
            Thread.sleep(20);
        }
        assertThat(ns.pids()).contains(pid);
    }

    private static void closeStreams(Process p) throws java.io.IOException {
        p.getOutputStream().close();
        p.getInputStream().close();
        p.getErrorStream().close();
    }

    /** Just enough of bpf(2) to make and pin a map, independent of the library under test. */
    @SuppressWarnings("restricted")
    static final class RawBpf {
        private static final int BPF_MAP_CREATE = 0;
        private static final int BPF_OBJ_PIN = 6;
        private static final int BPF_MAP_TYPE_ARRAY = 2;
        private static final long SYS_BPF = switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> 321;
            case "aarch64" -> 280;
            default -> -1;
        };
        private static final Linker LINKER = Linker.nativeLinker();
        private static final MethodHandle SYSCALL = LINKER.downcallHandle(
                LINKER.defaultLookup().find("syscall").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG),
                Linker.Option.firstVariadicArg(1));
        private static final MethodHandle CLOSE = LINKER.downcallHandle(
                LINKER.defaultLookup().find("close").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));

        private RawBpf() {
        }

        static int createArrayMap() throws Throwable {
            assumeThat(SYS_BPF).as("bpf syscall number for " + System.getProperty("os.arch")).isPositive();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment attr = arena.allocate(128, 8);
                attr.set(ValueLayout.JAVA_INT, 0, BPF_MAP_TYPE_ARRAY);
                attr.set(ValueLayout.JAVA_INT, 4, 4); // key_size
                attr.set(ValueLayout.JAVA_INT, 8, 4); // value_size
                attr.set(ValueLayout.JAVA_INT, 12, 1); // max_entries
                long fd = (long) SYSCALL.invokeExact(SYS_BPF, (long) BPF_MAP_CREATE, attr, 128L);
                assertThat(fd).as("BPF_MAP_CREATE").isNotNegative();
                return (int) fd;
            }
        }

        static void pin(int fd, Path path) throws Throwable {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment attr = arena.allocate(128, 8);
                attr.set(ValueLayout.ADDRESS, 0, arena.allocateFrom(path.toString()));
                attr.set(ValueLayout.JAVA_INT, 8, fd);
                long r = (long) SYSCALL.invokeExact(SYS_BPF, (long) BPF_OBJ_PIN, attr, 128L);
                assertThat(r).as("BPF_OBJ_PIN " + path).isZero();
            }
        }

        static void close(int fd) throws Throwable {
            int r = (int) CLOSE.invokeExact(fd);
            assertThat(r).isZero();
        }
    }
}
