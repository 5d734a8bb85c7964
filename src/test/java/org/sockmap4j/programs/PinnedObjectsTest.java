package org.sockmap4j.programs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.AttachMode;
import org.sockmap4j.AttachType;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfException;
import org.sockmap4j.BpfObject;
import org.sockmap4j.ConnectionKey;
import org.sockmap4j.Errno;
import org.sockmap4j.KeyCodec;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SkSkbProgram;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockMap;
import org.sockmap4j.SockOpsProgram;
import org.sockmap4j.testing.BpfFs;
import org.sockmap4j.testing.ChildProcess;
import org.sockmap4j.testing.Exec;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TempBpfDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A SOCKHASH, an SK_MSG program and the link attaching one to the other, pinned on bpffs, outlive
 * every fd of the JVM that made them: another JVM opens them by path and finds the same kernel
 * objects; the link pin alone keeps the program attached until it is unlinked.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(120)
class PinnedObjectsTest {
    private static final Duration CHILD = Duration.ofSeconds(60);

    /** Polls the map's SK_MSG_VERDICT programs until they equal {@code expected} (links are freed asynchronously). */
    private static List<Integer> awaitAttached(SockHash<?> hash, List<Integer> expected) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        List<Integer> now = hash.attachedPrograms(AttachType.SK_MSG_VERDICT);
        while (!now.equals(expected) && System.nanoTime() < deadline) {
            Thread.sleep(20);
            now = hash.attachedPrograms(AttachType.SK_MSG_VERDICT);
        }
        return now;
    }

    private static boolean bpftoolShows(String kind, int id) {
        return Exec.run("bpftool", kind, "show", "id", Integer.toString(id)).ok();
    }

    @Test
    void pinnedMapProgramAndLinkOutliveThisJvmAndTheLinkPinKeepsTheProgramAttached() throws Exception {
        org.sockmap4j.testing.KernelAssume.has(org.sockmap4j.KernelFeatures.Feature.SOCKMAP_LINK);
        try (TempBpfDir dir = BpfFs.tempDir()) {
            Path mapPin = dir.resolve("sock_hash");
            Path progPin = dir.resolve("bypass_sk_msg");
            Path linkPin = dir.resolve("sk_msg_link");
            int mapId;
            int progId;
            int linkId;
            try (BpfObject obj = BpfObject.openBundled("bypass").load();
                 SockHash<ConnectionKey> hash = obj.sockHash("sock_hash", ConnectionKey.codec());
                 SkMsgProgram msg = obj.skMsg("bypass_sk_msg");
                 Attachment link = msg.attach(hash, AttachMode.LINK)) {
                hash.pin(mapPin);
                msg.pin(progPin);
                link.pin(linkPin);
                mapId = hash.id();
                progId = msg.id();
                linkId = link.linkId();
                assertThat(hash.attachedPrograms(AttachType.SK_MSG_VERDICT)).containsExactly(progId);
            }
            // nothing of the above is open in this JVM any more
            assertThat(mapPin).exists();
            assertThat(progPin).exists();
            assertThat(linkPin).exists();

            try (ChildProcess child = ChildProcess.start(PinnedObjectsPeer.class, mapPin.toString(),
                    progPin.toString())) {
                assertThat(child.readLine(CHILD)).isEqualTo("map " + mapId);
                assertThat(child.readLine(CHILD)).isEqualTo("prog " + progId);
                assertThat(child.readLine(CHILD)).isEqualTo("attached " + progId);
                assertThat(child.waitFor(CHILD)).isZero();
            }

            try (SockHash<ConnectionKey> hash = SockHash.openPinned(mapPin, ConnectionKey.codec())) {
                assertThat(hash.id()).isEqualTo(mapId);
                assertThat(hash.attachedPrograms(AttachType.SK_MSG_VERDICT)).containsExactly(progId);
                assertThat(bpftoolShows("link", linkId)).isTrue();

                Files.delete(progPin); // the link holds the program
                assertThat(awaitAttached(hash, List.of(progId))).containsExactly(progId);

                Files.delete(linkPin); // the last reference to the link
                assertThat(awaitAttached(hash, List.of())).isEmpty();
                assertThat(bpftoolShows("link", linkId)).isFalse();
            }
        }
    }

    @Test
    void aPinnedProgramOpensOnlyAsItsOwnKind() throws IOException {
        try (TempBpfDir dir = BpfFs.tempDir();
             BpfObject obj = BpfObject.openBundled("bypass").load();
             SkMsgProgram msg = obj.skMsg("bypass_sk_msg");
             SockOpsProgram ops = obj.sockOps("bypass_sockops")) {
            Path msgPin = dir.resolve("msg");
            Path opsPin = dir.resolve("ops");
            msg.pin(msgPin);
            ops.pin(opsPin);
            assertThatThrownBy(() -> SkSkbProgram.openPinned(msgPin).close()).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> SockOpsProgram.openPinned(msgPin).close())
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> SkMsgProgram.openPinned(opsPin).close()).isInstanceOf(IllegalArgumentException.class);
            try (SkMsgProgram again = SkMsgProgram.openPinned(msgPin);
                 SockOpsProgram opsAgain = SockOpsProgram.openPinned(opsPin)) {
                assertThat(again.id()).isEqualTo(msg.id());
                assertThat(opsAgain.id()).isEqualTo(ops.id());
            }
        }
    }

    /**
     * A sockmap link's info starts like a program's: its link type BPF_LINK_TYPE_SOCKMAP (14)
     * sits where a program's type would, and 14 is BPF_PROG_TYPE_SK_SKB.
     */
    @Test
    void aPinnedLinkDoesNotOpenAsAProgram() {
        org.sockmap4j.testing.KernelAssume.has(org.sockmap4j.KernelFeatures.Feature.SOCKMAP_LINK);
        try (TempBpfDir dir = BpfFs.tempDir();
             BpfObject obj = BpfObject.openBundled("redirect").load();
             SockMap map = obj.sockMap("sock_map");
             SkSkbProgram skb = obj.skSkb("skb_pass");
             Attachment link = skb.attach(map, AttachType.SK_SKB_VERDICT, AttachMode.LINK)) {
            Path linkPin = dir.resolve("link");
            link.pin(linkPin);
            assertThatThrownBy(() -> SkSkbProgram.openPinned(linkPin).close())
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> SkMsgProgram.openPinned(linkPin).close())
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void aPinnedMapOpensOnlyAsItsOwnKindAndKeySize() {
        try (TempBpfDir dir = BpfFs.tempDir();
             BpfObject obj = BpfObject.openBundled("bypass").load();
             SockHash<ConnectionKey> hash = obj.sockHash("sock_hash", ConnectionKey.codec());
             SkMsgProgram msg = obj.skMsg("bypass_sk_msg")) {
            Path mapPin = dir.resolve("map");
            Path progPin = dir.resolve("prog");
            hash.pin(mapPin);
            msg.pin(progPin);
            assertThatThrownBy(() -> SockMap.openPinned(mapPin).close()).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> SockHash.openPinned(mapPin, KeyCodec.u32()).close())
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> SockHash.openPinned(progPin, ConnectionKey.codec()).close())
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> SkMsgProgram.openPinned(mapPin).close())
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void openingAMissingPinFailsWithEnoentAndPinningTwiceWithEexist() {
        try (TempBpfDir dir = BpfFs.tempDir();
             BpfObject obj = BpfObject.openBundled("bypass").load();
             SkMsgProgram msg = obj.skMsg("bypass_sk_msg")) {
            assertThatThrownBy(() -> SkMsgProgram.openPinned(dir.resolve("missing")).close())
                    .isInstanceOfSatisfying(BpfException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT));
            msg.pin(dir.resolve("prog"));
            assertThatThrownBy(() -> msg.pin(dir.resolve("prog")))
                    .isInstanceOfSatisfying(BpfException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EEXIST));
        }
    }
}
