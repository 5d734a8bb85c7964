package org.sockmap4j.reliability;

import java.nio.file.Files;
import java.time.Duration;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.sockmap4j.AttachMode;
import org.sockmap4j.AttachType;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfException;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Cgroup;
import org.sockmap4j.Errno;
import org.sockmap4j.KernelFeatures.Feature;
import org.sockmap4j.SockOpsProgram;
import org.sockmap4j.testing.ChildProcess;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.KernelAssume;
import org.sockmap4j.testing.KernelIds;
import org.sockmap4j.testing.KernelIds.Kind;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TestCgroup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A cgroup removed while a SOCK_OPS program is attached to it. With a process inside, rmdir fails
 * with EBUSY and nothing changes. Empty, rmdir succeeds; the kernel then detaches the programs
 * itself, and the {@link Cgroup} handle and the {@link Attachment} behave as documented: queries
 * and new attachments fail with a {@link BpfException} carrying ENOENT, a link's update fails with
 * ENOLINK, and {@code close()} succeeds and frees the program.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class CgroupRemovalTest {
    private static final Duration KERNEL_FREES = Duration.ofSeconds(10);

    @Test
    void rmdirFailsWithEbusyWhileAProcessIsInsideAndTheProgramStaysAttached() throws Exception {
        try (TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path());
             ChildProcess member = ChildProcess.start(AttachingPeer.class, "idle");
             BpfObject obj = BpfObject.openBundled("bypass").load();
             SockOpsProgram ops = obj.sockOps("bypass_sockops");
             Attachment attached = ops.attach(cgroup)) {
            member.readLine(Duration.ofSeconds(60)); // its ids
            assertThat(member.readLine(Duration.ofSeconds(60))).isEqualTo("ready");
            cg.addProcess(member.pid());

            assertThat(Posix.rmdir(cg.path())).isEqualTo(-Posix.EBUSY);

            assertThat(cg.path()).isDirectory();
            assertThat(cg.processes()).containsExactly(member.pid());
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).containsExactly(ops.id());
        }
    }

    @ParameterizedTest
    @EnumSource(value = AttachMode.class, names = {"LINK", "PROG_ATTACH"})
    void removingAnEmptyCgroupDetachesItsProgramsAndTheHandlesFailCleanly(AttachMode mode) throws Exception {
        if (mode == AttachMode.LINK) {
            KernelAssume.has(Feature.CGROUP_LINK);
        }
        try (TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path())) {
            Attachment attached;
            int progId;
            try (BpfObject obj = BpfObject.openBundled("bypass").load();
                 SockOpsProgram ops = obj.sockOps("bypass_sockops")) {
                attached = ops.attach(cgroup, mode);
                progId = ops.id();
            }
            try (attached;
                 BpfObject other = BpfObject.openBundled("bypass").load();
                 SockOpsProgram replacement = other.sockOps("bypass_sockops")) {
                assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).containsExactly(progId);

                assertThat(Posix.rmdir(cg.path())).isZero();
                assertThat(Files.exists(cg.path())).isFalse();

                // the handle's fd stays open, but the kernel answers ENOENT for the removed cgroup
                assertThatThrownBy(() -> cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS))
                        .isExactlyInstanceOf(BpfException.class)
                        .satisfies(e -> assertThat(((BpfException) e).errno()).isEqualTo(Errno.ENOENT));
                assertThatThrownBy(() -> replacement.attach(cgroup, mode).close())
                        .isExactlyInstanceOf(BpfException.class)
                        .satisfies(e -> assertThat(((BpfException) e).errno()).isEqualTo(Errno.ENOENT));
                assertThat(attached.isClosed()).isFalse();
                if (mode == AttachMode.LINK) {
                    int linkId = attached.linkId();
                    assertThat(KernelIds.existing(Kind.LINK)).contains(linkId);
                    // the kernel detaches the link once the cgroup is released (asynchronously)
                    assertThat(updateFailsWithEnolink(attached, replacement)).as("BPF_LINK_UPDATE gets ENOLINK").isTrue();
                } else {
                    assertThatThrownBy(attached::linkId).isInstanceOf(IllegalStateException.class);
                }
                assertThat(KernelIds.existing(Kind.PROG)).as("held by the attachment").contains(progId);
            } // closes the attachment without an error
            assertThat(attached.isClosed()).isTrue();
            assertThat(KernelIds.stillExisting(Kind.PROG, Set.of(progId), KERNEL_FREES)).isEmpty();
        }
    }

    /**
     * Polls BPF_LINK_UPDATE with BPF_F_REPLACE and an expected program the link does not run:
     * EPERM while the link is attached (nothing changes), ENOLINK once the kernel detached it.
     */
    private static boolean updateFailsWithEnolink(Attachment link, SockOpsProgram notRunning)
            throws InterruptedException {
        long deadline = System.nanoTime() + KERNEL_FREES.toNanos();
        while (System.nanoTime() < deadline) {
            try {
                link.update(notRunning, notRunning);
                throw new AssertionError("the link was updated although it does not run " + notRunning);
            } catch (BpfException e) {
                if (e.errno() != Errno.EPERM) {
                    return e.errno() == Errno.ENOLINK;
                }
            }
            Thread.sleep(20);
        }
        return false;
    }
}
