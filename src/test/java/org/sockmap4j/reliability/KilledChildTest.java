package org.sockmap4j.reliability;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.AttachType;
import org.sockmap4j.Cgroup;
import org.sockmap4j.ConnectionKey;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.KernelFeatures.Feature;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SockHash;
import org.sockmap4j.testing.BpfFs;
import org.sockmap4j.testing.ChildProcess;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.KernelAssume;
import org.sockmap4j.testing.KernelIds;
import org.sockmap4j.testing.KernelIds.Kind;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TempBpfDir;
import org.sockmap4j.testing.TestCgroup;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A child JVM ({@link AttachingPeer}) attaches programs and is killed with SIGKILL, so no
 * {@code close()} and no Cleaner runs. The kernel then drops what only the dead process's fds
 * held: links detach, maps and programs are freed (checked by BPF_PROG_QUERY on the cgroup and by
 * the ids the child reported). Two things survive, as the kernel defines: a BPF_PROG_ATTACH on a
 * cgroup (until detached or the cgroup is removed), and whatever was pinned (until the pin is
 * removed), which this JVM can reopen and remove.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(120)
class KilledChildTest {
    private static final Duration CHILD = Duration.ofSeconds(60);
    private static final Duration KERNEL_FREES = Duration.ofSeconds(10);
    private static final int SIGKILLED = 128 + 9;

    /** Parses the child's "map 1 2 prog 3 link 4" line. */
    private static Map<Kind, Set<Integer>> parseIds(String line) {
        Map<Kind, Set<Integer>> ids = new EnumMap<>(Kind.class);
        Kind current = null;
        for (String word : line.split(" ")) {
            switch (word) {
                case "map" -> current = Kind.MAP;
                case "prog" -> current = Kind.PROG;
                case "link" -> current = Kind.LINK;
                default -> ids.get(current).add(Integer.parseInt(word));
            }
            ids.putIfAbsent(current, new TreeSet<>());
        }
        return ids;
    }

    /** Starts the peer, returns the ids it holds once it is ready. */
    private static Map<Kind, Set<Integer>> started(ChildProcess child) {
        Map<Kind, Set<Integer>> ids = parseIds(child.readLine(CHILD));
        assertThat(child.readLine(CHILD)).isEqualTo("ready");
        return ids;
    }

    private static void kill(ChildProcess child) {
        child.process().destroyForcibly(); // SIGKILL
        assertThat(child.waitFor(CHILD)).as("exit status").isEqualTo(SIGKILLED);
    }

    private static List<Integer> awaitSockOps(Cgroup cgroup, List<Integer> expected) throws InterruptedException {
        long deadline = System.nanoTime() + KERNEL_FREES.toNanos();
        List<Integer> now = cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS);
        while (!now.equals(expected) && System.nanoTime() < deadline) {
            Thread.sleep(20);
            now = cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS);
        }
        return now;
    }

    private static void assertAllFreed(Map<Kind, Set<Integer>> ids) throws InterruptedException {
        for (Kind k : Kind.values()) {
            assertThat(KernelIds.stillExisting(k, ids.get(k), KERNEL_FREES)).as("the child's %ss", k).isEmpty();
        }
    }

    @Test
    void aKilledChildLeavesNoLinkMapOrProgramBehind() throws Exception {
        KernelAssume.has(Feature.CGROUP_LINK, "without it the recipe falls back to PROG_ATTACH, which outlives the process");
        try (TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path());
             ChildProcess child = ChildProcess.start(AttachingPeer.class, "recipe", cg.path().toString())) {
            Map<Kind, Set<Integer>> ids = started(child);
            // bypass: sock_hash + counters, redirect: sock_map + config + counters; 3 programs; the cgroup link
            assertThat(ids.get(Kind.MAP)).hasSizeGreaterThanOrEqualTo(5);
            assertThat(ids.get(Kind.PROG)).hasSizeGreaterThanOrEqualTo(3);
            assertThat(ids.get(Kind.LINK)).isNotEmpty();
            List<Integer> sockOps = cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS);
            assertThat(sockOps).hasSize(1);
            assertThat(ids.get(Kind.PROG)).containsAll(sockOps);

            kill(child);

            assertThat(awaitSockOps(cgroup, List.of())).as("programs on the cgroup").isEmpty();
            assertAllFreed(ids);
        }
    }

    /** Parses the peer's "sock_hash 1 sk_msg 2 sock_ops 3" line. */
    private record Named(int sockHash, int skMsg, int sockOps) {
        static Named parse(String line) {
            String[] w = line.split(" ");
            assertThat(w).hasSize(6);
            assertThat(w[0] + w[2] + w[4]).isEqualTo("sock_hash" + "sk_msg" + "sock_ops");
            return new Named(Integer.parseInt(w[1]), Integer.parseInt(w[3]), Integer.parseInt(w[5]));
        }
    }

    /**
     * A PROG_ATTACH outlives its process: the SOCK_OPS program stays attached, and with it the map
     * it uses (the SOCKHASH). The SOCKHASH's own PROG_ATTACH'd SK_MSG program is freed: a socket
     * map with no fd or pin left releases its programs (map_release_uref), although a program still
     * holds the map itself. Removing the cgroup releases the SOCK_OPS program, and then everything
     * the child made is freed.
     */
    @Test
    void aKilledChildsProgAttachStaysOnTheCgroupUntilTheCgroupIsRemoved() throws Exception {
        Map<Kind, Set<Integer>> ids;
        try (TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path());
             ChildProcess child = ChildProcess.start(AttachingPeer.class, "prog_attach", cg.path().toString())) {
            Named named = Named.parse(child.readLine(CHILD));
            ids = started(child);
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).containsExactly(named.sockOps());
            assertThat(ids.get(Kind.LINK)).isEmpty();

            kill(child);

            assertThat(KernelIds.stillExisting(Kind.PROG, Set.of(named.skMsg()), KERNEL_FREES))
                    .as("the sk_msg program").isEmpty();
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).as("still attached")
                    .containsExactly(named.sockOps());
            assertThat(KernelIds.existing(Kind.PROG)).as("the sock_ops program").contains(named.sockOps());
            assertThat(KernelIds.existing(Kind.MAP)).as("the sockhash the sock_ops program uses")
                    .contains(named.sockHash());
        } // removes the cgroup (TestCgroup.close fails if rmdir does)
        assertAllFreed(ids);
    }

    @Test
    void whatAKilledChildPinnedSurvivesAndThisJvmReopensAndRemovesIt() throws Exception {
        KernelAssume.has(Feature.CGROUP_LINK, "only links can be pinned");
        try (TempBpfDir dir = BpfFs.tempDir(); TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path())) {
            Map<Kind, Set<Integer>> ids;
            List<Integer> sockOps;
            Named named;
            try (ChildProcess child = ChildProcess.start(AttachingPeer.class, "pinned", cg.path().toString(),
                    dir.path().toString())) {
                named = Named.parse(child.readLine(CHILD));
                ids = started(child);
                sockOps = cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS);
                assertThat(sockOps).containsExactly(named.sockOps());
                kill(child);
            }
            Path mapPin = dir.resolve("map");
            Path progPin = dir.resolve("prog");
            Path linkPin = dir.resolve("link");
            assertThat(mapPin).exists();
            assertThat(progPin).exists();
            assertThat(linkPin).exists();
            // the pinned cgroup link keeps the sock_ops program attached after its creator died
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).isEqualTo(sockOps);
            try (SockHash<ConnectionKey> hash = SockHash.openPinned(mapPin, ConnectionKey.codec());
                 SkMsgProgram msg = SkMsgProgram.openPinned(progPin)) {
                assertThat(hash.id()).isEqualTo(named.sockHash());
                assertThat(msg.id()).isEqualTo(named.skMsg());
                if (KernelFeatures.probe().has(Feature.SOCKMAP_LINK)) { // its unpinned map link died with the child
                    assertThat(hash.attachedPrograms(AttachType.SK_MSG_VERDICT)).isEmpty();
                }
            }
            Files.delete(linkPin);
            Files.delete(progPin);
            Files.delete(mapPin);
            assertThat(awaitSockOps(cgroup, List.of())).as("programs on the cgroup after unpinning").isEmpty();
            assertAllFreed(ids);
        }
    }
}
