package org.sockmap4j.reliability;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.AttachType;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfException;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Cgroup;
import org.sockmap4j.Errno;
import org.sockmap4j.KernelFeatures.Feature;
import org.sockmap4j.KeyCodec;
import org.sockmap4j.KeyNotFoundException;
import org.sockmap4j.PermissionException;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockOpsProgram;
import org.sockmap4j.Sockets;
import org.sockmap4j.testing.BpfFs;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.KernelAssume;
import org.sockmap4j.testing.KernelIds;
import org.sockmap4j.testing.KernelIds.Kind;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TempMount;
import org.sockmap4j.testing.TestCgroup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A private bpffs, mounted for the test, lazily unmounted ({@code umount -l}) under a pinned map
 * and a pinned link. Handles already open keep working; reopening the path fails with a
 * {@link BpfException} (ENOENT: the path is a plain directory again), pinning there with a
 * {@link PermissionException} (EPERM: not a bpffs). The unmounted bpffs goes away with its pins,
 * so a map then lives only as long as its fds, and a link kept only by its pin is detached.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class BpffsUnmountTest {
    private static final Duration KERNEL_FREES = Duration.ofSeconds(10);

    private TempMount mount;
    private Path mountPoint;

    @BeforeEach
    void mountPrivateBpffs() throws IOException {
        mount = TempMount.of("bpf", "mode=0700", "bpf");
        mountPoint = mount.path();
        assertThat(BpfFs.isBpfMount(mountPoint)).isTrue();
    }

    @AfterEach
    void cleanUp() {
        mount.close();
    }

    private void unmountLazily() {
        mount.unmountLazily();
        assertThat(BpfFs.isBpfMount(mountPoint)).isFalse();
    }

    @Test
    void openHandlesOutliveTheMountAndReopeningFailsTyped() throws Exception {
        int id;
        try (TcpPair tcp = TcpPair.open();
             SockHash<Integer> hash = SockHash.create(KeyCodec.u32(), 4)) {
            Path pin = mountPoint.resolve("map");
            hash.pin(pin);
            id = hash.id();
            try (SockHash<Integer> reopened = SockHash.openPinned(pin, KeyCodec.u32())) {
                unmountLazily();

                reopened.put(1, tcp.client());
                assertThat(hash.cookie(1)).isEqualTo(Sockets.cookie(tcp.client()));
                reopened.delete(1);
                assertThat(hash.keys()).isEmpty();
            }
            assertThatThrownBy(() -> SockHash.openPinned(pin, KeyCodec.u32()).close())
                    .isExactlyInstanceOf(BpfException.class)
                    .satisfies(e -> assertThat(((BpfException) e).errno()).isEqualTo(Errno.ENOENT))
                    .isNotInstanceOf(KeyNotFoundException.class);
            assertThatThrownBy(() -> hash.pin(mountPoint.resolve("again")))
                    .isInstanceOfSatisfying(PermissionException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EPERM));
            assertThat(KernelIds.existing(Kind.MAP)).as("alive through its fd").contains(id);
        }
        assertThat(KernelIds.stillExisting(Kind.MAP, Set.of(id), KERNEL_FREES)).as("the pin went with the mount").isEmpty();
    }

    @Test
    void aLinkKeptOnlyByItsPinIsDetachedWhenItsBpffsGoes() throws Exception {
        KernelAssume.has(Feature.CGROUP_LINK, "only links can be pinned");
        try (TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path())) {
            int linkId;
            int progId;
            try (BpfObject obj = BpfObject.openBundled("bypass").load();
                 SockOpsProgram ops = obj.sockOps("bypass_sockops");
                 Attachment link = ops.attach(cgroup)) {
                link.pin(mountPoint.resolve("link"));
                linkId = link.linkId();
                progId = ops.id();
            }
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).as("kept by the pin").containsExactly(progId);

            unmountLazily();

            assertThat(KernelIds.stillExisting(Kind.LINK, Set.of(linkId), KERNEL_FREES)).isEmpty();
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).isEqualTo(List.of());
            assertThat(KernelIds.stillExisting(Kind.PROG, Set.of(progId), KERNEL_FREES)).isEmpty();
        }
    }
}
