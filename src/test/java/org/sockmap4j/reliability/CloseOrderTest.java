package org.sockmap4j.reliability;

import java.time.Duration;
import java.util.Set;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.sockmap4j.AttachMode;
import org.sockmap4j.AttachType;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Cgroup;
import org.sockmap4j.ConnectionKey;
import org.sockmap4j.KernelFeatures.Feature;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockOpsProgram;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.KernelAssume;
import org.sockmap4j.testing.KernelIds;
import org.sockmap4j.testing.KernelIds.Kind;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TestCgroup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Closing a {@link BpfObject} and the maps and programs taken from it while attachments made
 * with them are still open: the process's fds to the maps and programs are closed (checked in
 * {@code /proc/self/fdinfo}), the kernel keeps the programs (and the map an SK_MSG program is
 * attached to) alive and attached for as long as the attachment, and the attachment's methods keep
 * working; closing the attachment detaches, and the kernel then frees everything (checked by id).
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class CloseOrderTest {
    private static final Duration KERNEL_FREES = Duration.ofSeconds(10);

    @ParameterizedTest
    @EnumSource(value = AttachMode.class, names = {"LINK", "PROG_ATTACH"})
    void attachmentsOutliveTheirObjectMapAndProgramHandlesUntilClosed(AttachMode mode) throws Exception {
        if (mode == AttachMode.LINK) {
            KernelAssume.has(Feature.CGROUP_LINK);
            KernelAssume.has(Feature.SOCKMAP_LINK);
        }
        try (TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path())) {
            Attachment onMap;
            Attachment onCgroup;
            int mapId;
            int msgId;
            int opsId;
            SkMsgProgram closedMsg;
            try (BpfObject obj = BpfObject.openBundled("bypass").load();
                 SockHash<ConnectionKey> hash = obj.sockHash("sock_hash", ConnectionKey.codec());
                 SkMsgProgram msg = obj.skMsg("bypass_sk_msg");
                 SockOpsProgram ops = obj.sockOps("bypass_sockops")) {
                onMap = msg.attach(hash, mode);
                onCgroup = ops.attach(cgroup, mode);
                mapId = hash.id();
                msgId = msg.id();
                opsId = ops.id();
                closedMsg = msg;
            } // the object, the map and both programs closed; the attachments still open
            try (onMap; onCgroup) {
                Set<Integer> heldMaps = KernelIds.held().get(Kind.MAP);
                Set<Integer> heldProgs = KernelIds.held().get(Kind.PROG);
                if (mode == AttachMode.LINK) { // a link holds its program (and a map link its map) in the kernel
                    assertThat(heldMaps).as("map fds").doesNotContain(mapId);
                    assertThat(heldProgs).as("program fds").doesNotContain(msgId, opsId);
                    assertThat(KernelIds.held().get(Kind.LINK)).contains(onMap.linkId(), onCgroup.linkId());
                } else { // a PROG_ATTACH keeps duplicates of the target and program fds, to detach
                    assertThat(heldMaps).as("the attachment's dup of the map").contains(mapId);
                    assertThat(heldProgs).as("the attachments' dups of the programs").contains(msgId, opsId);
                }
                assertThat(KernelIds.existing(Kind.MAP)).contains(mapId);
                assertThat(KernelIds.existing(Kind.PROG)).contains(msgId, opsId);
                assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).containsExactly(opsId);

                // closed handles refuse use before any system call; attachments still answer
                assertThatThrownBy(closedMsg::id).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
                assertThat(onMap.isClosed()).isFalse();
                assertThat(onCgroup.isClosed()).isFalse();
                if (mode == AttachMode.LINK) {
                    replaceTheCgroupProgram(onCgroup, cgroup, opsId);
                } else {
                    assertThatThrownBy(onCgroup::linkId).isInstanceOf(IllegalStateException.class);
                }
            } // detaches both
            assertThat(onMap.isClosed()).isTrue();
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).isEmpty();
            assertThat(KernelIds.stillExisting(Kind.PROG, Set.of(msgId, opsId), KERNEL_FREES)).isEmpty();
            assertThat(KernelIds.stillExisting(Kind.MAP, Set.of(mapId), KERNEL_FREES)).isEmpty();
            assertThat(KernelIds.held().get(Kind.LINK)).isEmpty();
        }
    }

    /** BPF_LINK_UPDATE on a link whose program has no fd left here: the old program is freed. */
    private static void replaceTheCgroupProgram(Attachment link, Cgroup cgroup, int oldId) throws InterruptedException {
        try (BpfObject other = BpfObject.openBundled("bypass").load();
             SockOpsProgram replacement = other.sockOps("bypass_sockops")) {
            link.update(replacement);
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).containsExactly(replacement.id());
        }
        assertThat(KernelIds.stillExisting(Kind.PROG, Set.of(oldId), KERNEL_FREES)).as("the replaced program").isEmpty();
    }
}
