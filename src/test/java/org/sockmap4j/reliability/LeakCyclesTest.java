package org.sockmap4j.reliability;

import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.AttachType;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Cgroup;
import org.sockmap4j.ConnectionKey;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.KeyCodec;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockMap;
import org.sockmap4j.SockOpsProgram;
import org.sockmap4j.Sockets;
import org.sockmap4j.SocketMap;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.KernelIds;
import org.sockmap4j.testing.KernelIds.Kind;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TestCgroup;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Long create/use/close loops leave nothing behind: after them the process has the fds it had
 * before, and none of the kernel objects the loop created (each recorded by id while it lived)
 * exists any more. The kernel frees maps and programs after an RCU grace period, so their absence
 * is polled for a bounded time. Cycle counts are system properties: {@code sockmap4j.leakCycles}
 * (map cycles, default 100,000) and {@code sockmap4j.loadCycles} (object cycles, default 1,000).
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
class LeakCyclesTest {
    static final int MAP_CYCLES = Integer.getInteger("sockmap4j.leakCycles", 100_000);
    static final int LOAD_CYCLES = Integer.getInteger("sockmap4j.loadCycles", 1_000);
    private static final int WARM_UP = 200;
    /** The name of the loop's maps, which a Cleaner warning about one of them would carry. */
    private static final String NAME = "leak_cycle";
    private static final Duration KERNEL_FREES = Duration.ofSeconds(30);
    private static final boolean QUERY_MAPS = KernelFeatures.probe().has(KernelFeatures.Feature.PROG_QUERY_SOCKMAP);

    /**
     * One cycle: a new SOCKMAP (even cycles) or SOCKHASH (odd), the same TCP socket inserted,
     * removed, the map closed. Returns the map's kernel id.
     */
    private static int mapCycle(int i, int socketFd) {
        SocketMap<Integer> map = i % 2 == 0 ? SockMap.builder().name(NAME).create()
                : SockHash.builder(KeyCodec.u32()).name(NAME).create();
        try (map) {
            map.put(0, socketFd);
            int id = map.id();
            map.delete(0); // KeyNotFoundException if the kernel had not kept the socket
            return id;
        }
    }

    @Test
    @Timeout(600)
    void mapCreateInsertRemoveCloseCyclesReturnFdsAndMapsToTheirStart() throws Exception {
        try (TcpPair tcp = TcpPair.open()) {
            int fd = Sockets.fd(tcp.client()); // looked up once: put(key, channel) would scan /proc/self/fd
            for (int i = 0; i < WARM_UP; i++) { // class loading, scratch buffers, JIT
                mapCycle(i, fd);
            }
            try (SockMap probe = SockMap.create(1)) { // the id walk sees a live map
                assertThat(KernelIds.existing(Kind.MAP)).contains(probe.id());
            }
            Map<Integer, String> fdsBefore = FdLeakCheck.snapshot();
            int openBefore = KernelIds.openFds();
            Map<Kind, Set<Integer>> heldBefore = KernelIds.held();
            Set<Integer> mapsBefore = KernelIds.existing(Kind.MAP);

            int[] ids = new int[MAP_CYCLES];
            long start = System.nanoTime();
            try (LogCapture log = new LogCapture()) {
                for (int i = 0; i < MAP_CYCLES; i++) {
                    ids[i] = mapCycle(i, fd);
                }
                System.gc(); // a map the loop forgot would now be closed by the Cleaner, which warns
                Thread.sleep(100);
                assertThat(log.warnings()).as("leak warnings of the Cleaner").noneMatch(w -> w.contains(NAME));
            }
            long elapsed = System.nanoTime() - start;

            Set<Integer> created = new TreeSet<>();
            for (int id : ids) {
                created.add(id);
            }
            assertThat(created).as("every cycle made a new map").hasSize(MAP_CYCLES);
            created.forEach(id -> assertThat(mapsBefore).as("maps that existed before the loop").doesNotContain(id));

            new FdLeakCheck().assertNoLeaksSince(fdsBefore, MAP_CYCLES + " map cycles");
            assertThat(KernelIds.openFds()).as("open fds").isEqualTo(openBefore);
            assertThat(KernelIds.held()).as("BPF objects this process holds").isEqualTo(heldBefore);
            Set<Integer> left = KernelIds.stillExisting(Kind.MAP, created, KERNEL_FREES);
            assertThat(left).as("maps of the loop still in the kernel after %s", KERNEL_FREES).isEmpty();
            Set<Integer> mapsAfter = KernelIds.existing(Kind.MAP);
            report("map cycles", MAP_CYCLES, elapsed, mapsBefore.size(), mapsAfter.size());
        }
    }

    /**
     * One cycle: the bundled {@code bypass} object loaded, its SOCKHASH, SK_MSG and SOCK_OPS
     * programs taken, SK_MSG attached to the map and SOCK_OPS to a cgroup (links where the kernel
     * has them), the attachments checked with BPF_PROG_QUERY, then everything closed.
     */
    @Test
    @Timeout(600)
    void loadAttachDetachCloseCyclesReturnFdsAndKernelObjectsToTheirStart() throws Exception {
        try (TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path())) {
            for (int i = 0; i < 5; i++) {
                loadCycle(cgroup, Map.of());
            }
            drainEarlierLeaks();
            Map<Integer, String> fdsBefore = FdLeakCheck.snapshot();
            int openBefore = KernelIds.openFds();
            Map<Kind, Set<Integer>> heldBefore = KernelIds.held();
            Map<Kind, Set<Integer>> existingBefore = KernelIds.existing();

            Map<Kind, Set<Integer>> created = Map.of(Kind.MAP, new TreeSet<>(), Kind.PROG, new TreeSet<>(),
                    Kind.LINK, new TreeSet<>());
            long start = System.nanoTime();
            try (LogCapture log = new LogCapture()) {
                for (int i = 0; i < LOAD_CYCLES; i++) {
                    loadCycle(cgroup, created);
                }
                System.gc();
                Thread.sleep(100);
                assertThat(log.warnings()).as("leak warnings of the Cleaner").isEmpty();
            }
            long elapsed = System.nanoTime() - start;
            for (Kind k : Kind.values()) {
                created.get(k).removeAll(heldBefore.get(k));
            }
            // bypass: sock_hash, counters (+ libbpf's .rodata/.bss where present); two programs
            assertThat(created.get(Kind.MAP)).hasSizeGreaterThanOrEqualTo(2 * LOAD_CYCLES);
            assertThat(created.get(Kind.PROG)).hasSizeGreaterThanOrEqualTo(2 * LOAD_CYCLES);

            new FdLeakCheck().assertNoLeaksSince(fdsBefore, LOAD_CYCLES + " load/attach cycles");
            assertThat(KernelIds.openFds()).as("open fds").isEqualTo(openBefore);
            assertThat(KernelIds.held()).as("BPF objects this process holds").isEqualTo(heldBefore);
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).isEmpty();
            for (Kind k : Kind.values()) {
                Set<Integer> left = KernelIds.stillExisting(k, created.get(k), KERNEL_FREES);
                assertThat(left).as("%ss of the loop still in the kernel after %s", k, KERNEL_FREES).isEmpty();
            }
            Map<Kind, Set<Integer>> existingAfter = KernelIds.existing();
            for (Kind k : Kind.values()) {
                report("load cycles, " + k, LOAD_CYCLES, elapsed, existingBefore.get(k).size(),
                        existingAfter.get(k).size());
            }
        }
    }

    /**
     * Lets the Cleaner handle what earlier tests in this JVM may have left unreachable, so that its
     * warnings do not land in this test's capture (the object loop's objects carry common names).
     */
    private static void drainEarlierLeaks() throws InterruptedException {
        System.gc();
        Thread.sleep(200);
    }

    private static void loadCycle(Cgroup cgroup, Map<Kind, Set<Integer>> created) {
        try (BpfObject obj = BpfObject.openBundled("bypass").load();
             SockHash<ConnectionKey> hash = obj.sockHash("sock_hash", ConnectionKey.codec());
             SkMsgProgram msg = obj.skMsg("bypass_sk_msg");
             SockOpsProgram ops = obj.sockOps("bypass_sockops");
             Attachment onMap = msg.attach(hash);
             Attachment onCgroup = ops.attach(cgroup)) {
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).containsExactly(ops.id());
            if (QUERY_MAPS) { // BPF_PROG_QUERY on a socket map: Linux 5.19+
                assertThat(hash.attachedPrograms(AttachType.SK_MSG_VERDICT)).containsExactly(msg.id());
            }
            if (!created.isEmpty()) {
                KernelIds.held().forEach((k, ids) -> created.get(k).addAll(ids));
            }
        }
    }

    private static void report(String what, int cycles, long nanos, int before, int after) {
        System.out.printf("LeakCyclesTest: %s: %,d cycles in %.1f s (%.2f s per 10,000); machine-wide count "
                + "before %d, after %d (other processes' objects included)%n", what, cycles, nanos / 1e9,
                nanos / 1e9 * 10_000 / cycles, before, after);
    }
}
