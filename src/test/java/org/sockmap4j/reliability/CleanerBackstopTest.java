package org.sockmap4j.reliability;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.AttachMode;
import org.sockmap4j.AttachType;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Cgroup;
import org.sockmap4j.SockMap;
import org.sockmap4j.SockOpsProgram;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.KernelIds;
import org.sockmap4j.testing.KernelIds.Kind;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TestCgroup;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Cleaner backstop: an object that becomes unreachable without {@code close()} has its fd
 * closed by a {@link java.lang.ref.Cleaner}, which logs a WARNING naming the object on the
 * {@code System.Logger} "org.sockmap4j". The test drops the last reference, runs
 * {@code System.gc()} in a bounded loop, and checks the fd in {@code /proc/self/fd}, the kernel's
 * object ids and the captured warning.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(180)
class CleanerBackstopTest {
    // 20 s was once not enough in a 5.10 TCG guest (the class ran first there, on a cold JVM)
    private static final Duration GC_WAIT = Duration.ofSeconds(60);

    /** Runs {@code System.gc()} until {@code done} holds, for at most {@link #GC_WAIT}. */
    private static boolean gcUntil(BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + GC_WAIT.toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            System.gc();
            Thread.sleep(20);
        }
        return true;
    }

    /** Whether fd {@code fd} of this process is (still) the BPF map with id {@code mapId}. */
    private static boolean isMap(int fd, int mapId) {
        try {
            return Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd)).contains("map_id:\t" + mapId);
        } catch (NoSuchFileException e) {
            return false;
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static boolean warned(LogCapture log, String what) {
        return log.warnings().stream().anyMatch(w -> w.contains(what) && w.contains("was not closed"));
    }

    /** A named SOCKMAP, forgotten: returns its fd number and kernel id, and no reference to it. */
    private static int[] forgottenSockMap(String name) {
        SockMap map = SockMap.builder().name(name).create();
        return new int[] {map.fd(), map.id()};
    }

    @Test
    void anUnreachableSockMapIsClosedByTheCleanerWithAWarningNamingIt() throws Exception {
        try (LogCapture log = new LogCapture()) {
            int[] fdAndId = forgottenSockMap("forgotten_map");
            int fd = fdAndId[0];
            int id = fdAndId[1];
            assertThat(isMap(fd, id)).as("fd %d is map %d before GC", fd, id).isTrue();

            boolean done = gcUntil(() -> !isMap(fd, id) && warned(log, "sockmap 'forgotten_map'"));

            assertThat(isMap(fd, id)).as("fd %d still open as map %d after GC", fd, id).isFalse();
            assertThat(log.warnings()).as("warnings").anyMatch(w -> w.contains("sockmap 'forgotten_map'")
                    && w.contains("fd " + fd) && w.contains("was not closed"));
            assertThat(done).isTrue();
            assertThat(KernelIds.stillExisting(Kind.MAP, Set.of(id), Duration.ofSeconds(10))).isEmpty();
        }
    }

    /** Loads the bypass object and forgets it: returns the ids of the objects it alone holds. */
    private static Map<Kind, Set<Integer>> forgottenBpfObject() {
        Map<Kind, Set<Integer>> before = KernelIds.held();
        BpfObject.openBundled("bypass").load();
        Map<Kind, Set<Integer>> ids = KernelIds.held();
        ids.forEach((k, s) -> s.removeAll(before.get(k)));
        return ids;
    }

    @Test
    void anUnreachableBpfObjectIsClosedByTheCleanerWithAWarningNamingIt() throws Exception {
        try (LogCapture log = new LogCapture()) {
            Map<Kind, Set<Integer>> ids = forgottenBpfObject();
            assertThat(ids.get(Kind.MAP)).as("maps libbpf holds").hasSizeGreaterThanOrEqualTo(2);
            assertThat(ids.get(Kind.PROG)).as("programs libbpf holds").hasSize(2);

            boolean done = gcUntil(() -> warned(log, "BPF object 'bypass'")
                    && KernelIds.held().get(Kind.PROG).stream().noneMatch(ids.get(Kind.PROG)::contains));

            assertThat(log.warnings()).anyMatch(w -> w.contains("BPF object 'bypass'") && w.contains("was not closed"));
            for (Kind k : List.of(Kind.MAP, Kind.PROG)) {
                Set<Integer> stillHeld = new TreeSet<>(KernelIds.held().get(k));
                stillHeld.retainAll(ids.get(k));
                assertThat(stillHeld).as("%ss still held by this process", k).isEmpty();
                assertThat(KernelIds.stillExisting(k, ids.get(k), Duration.ofSeconds(10))).as("%ss in the kernel", k)
                        .isEmpty();
            }
            assertThat(done).isTrue();
        }
    }

    /** Attaches the bypass SOCK_OPS program to {@code cgroup} and forgets the attachment; returns the program id. */
    private static int forgottenAttachment(Cgroup cgroup, AttachMode mode) {
        try (BpfObject obj = BpfObject.openBundled("bypass").load();
             SockOpsProgram ops = obj.sockOps("bypass_sockops")) {
            Attachment a = ops.attach(cgroup, mode);
            assertThat(a.isLink()).isEqualTo(mode == AttachMode.LINK);
            return ops.id();
        }
    }

    /**
     * A forgotten link is detached when the Cleaner closes its fd (the kernel detaches a link
     * whose last fd is gone), with a warning naming the program and the cgroup.
     */
    @Test
    void anUnreachableLinkIsDetachedByTheCleaner() throws Exception {
        org.sockmap4j.testing.KernelAssume.has(org.sockmap4j.KernelFeatures.Feature.CGROUP_LINK);
        try (LogCapture log = new LogCapture(); TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path())) {
            int prog = forgottenAttachment(cgroup, AttachMode.LINK);
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).containsExactly(prog);

            boolean done = gcUntil(() -> warned(log, "bypass_sockops")
                    && cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS).isEmpty());

            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).isEmpty();
            assertThat(log.warnings()).anyMatch(w -> w.contains("sock_ops program 'bypass_sockops' -> cgroup " + cg.path())
                    && w.contains("was not closed"));
            assertThat(done).isTrue();
            assertThat(KernelIds.stillExisting(Kind.PROG, Set.of(prog), Duration.ofSeconds(10))).isEmpty();
        }
    }

    /**
     * A forgotten PROG_ATTACH is NOT detached: the Cleaner closes the attachment's own fds (with
     * warnings), but the kernel keeps the program attached to the cgroup, as it does for a
     * process that exits without BPF_PROG_DETACH, until the cgroup is removed; then the kernel
     * frees the program.
     */
    @Test
    void anUnreachableProgAttachStaysAttachedUntilTheCgroupGoes() throws Exception {
        int prog;
        try (LogCapture log = new LogCapture(); TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path())) {
            prog = forgottenAttachment(cgroup, AttachMode.PROG_ATTACH);
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).containsExactly(prog);

            boolean done = gcUntil(() -> warned(log, "sock_ops program 'bypass_sockops' (dup)")
                    && !KernelIds.held().get(Kind.PROG).contains(prog));

            assertThat(log.warnings()).anyMatch(w -> w.contains("sock_ops program 'bypass_sockops' (dup)"));
            assertThat(KernelIds.held().get(Kind.PROG)).as("programs held by this process").doesNotContain(prog);
            assertThat(done).isTrue();
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).as("still attached").containsExactly(prog);
            assertThat(KernelIds.existing(Kind.PROG)).contains(prog);
        } // removes the cgroup
        assertThat(KernelIds.stillExisting(Kind.PROG, Set.of(prog), Duration.ofSeconds(10)))
                .as("program freed with its cgroup").isEmpty();
    }
}
