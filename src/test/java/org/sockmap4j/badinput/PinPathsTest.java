package org.sockmap4j.badinput;

import static org.assertj.core.api.Assertions.assertThat;
import static org.sockmap4j.badinput.Refusal.assertKernelRefused;
import static org.sockmap4j.badinput.Refusal.assertRefused;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.sockmap4j.AttachMode;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfException;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Cgroup;
import org.sockmap4j.Errno;
import org.sockmap4j.KernelFeatures.Feature;
import org.sockmap4j.PermissionException;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SockMap;
import org.sockmap4j.SockOpsProgram;
import org.sockmap4j.testing.BpfFs;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.KernelAssume;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TempBpfDir;
import org.sockmap4j.testing.TempMount;
import org.sockmap4j.testing.TestCgroup;

/**
 * Pin paths the kernel or the library refuse, beyond a taken path, a missing pin, a plain /tmp
 * directory for a map and a regular file to reopen (SocketMapContract, SockMapOperationsTest,
 * PinnedObjectsTest): a tmpfs this test mounts (bpffs not mounted there), a plain directory for a
 * program, a name with a dot, a missing directory on bpffs, a path whose pin was removed, a bpffs
 * directory, a link pinned where a map is expected, and a PROG_ATTACH, which has nothing to pin.
 * Nothing is left pinned, and the objects stay usable.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class PinPathsTest {
    private static final String PIN = "BPF_OBJ_PIN";
    private static final String GET = "BPF_OBJ_GET";
    private static final String NOT_BPFFS = "the directory must be on a bpffs mount (mount -t bpf bpf /sys/fs/bpf)";

    @Test
    void pinningOnATmpfsIsEPERM() throws IOException {
        try (TempMount tmpfs = TempMount.of("tmpfs", "size=64k,mode=0755", "sm4j_badinput");
                SockMap map = SockMap.builder().name("on_tmpfs").create()) {
            Path pin = tmpfs.path().resolve("map");
            assertKernelRefused(() -> map.pin(pin), PermissionException.class, Errno.EPERM, PIN,
                    "sockmap 'on_tmpfs' at " + pin, NOT_BPFFS);
            assertThat(pin).doesNotExist();
        }
    }

    @Test
    void pinningAProgramInAPlainDirectoryIsEPERM(@TempDir Path tmp) {
        try (BpfObject obj = BpfObject.openBundled("redirect").load(); SkMsgProgram prog = obj.skMsg("msg_pass")) {
            Path pin = tmp.resolve("prog");
            assertKernelRefused(() -> prog.pin(pin), PermissionException.class, Errno.EPERM, PIN,
                    "sk_msg program 'msg_pass' at " + pin, NOT_BPFFS);
            assertThat(pin).doesNotExist();
        }
    }

    @Test
    void aPinNameWithADotIsEPERM() throws IOException {
        try (TempBpfDir dir = BpfFs.tempDir(); SockMap map = SockMap.builder().name("dotted").create()) {
            Path pin = dir.resolve("map.v1");
            assertKernelRefused(() -> map.pin(pin), PermissionException.class, Errno.EPERM, PIN,
                    "sockmap 'dotted' at " + pin, "the name must not contain a '.'");
            // (a stat of a dotted name on bpffs fails with EPERM too: list the directory instead)
            assertThat(names(dir.path())).isEmpty();
            map.pin(dir.resolve("map_v1")); // the same map, the same directory, a name without a dot
            assertThat(names(dir.path())).containsExactly("map_v1");
        }
    }

    private static java.util.List<String> names(Path dir) throws IOException {
        try (java.util.stream.Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).toList();
        }
    }

    @Test
    void pinningIntoAMissingDirectoryOnBpffsIsENOENT() {
        try (TempBpfDir dir = BpfFs.tempDir(); SockMap map = SockMap.builder().name("no_dir").create()) {
            Path pin = dir.resolve("missing").resolve("map");
            assertKernelRefused(() -> map.pin(pin), BpfException.class, Errno.ENOENT, PIN,
                    "sockmap 'no_dir' at " + pin, "no such path");
            assertThat(dir.resolve("missing")).doesNotExist();
        }
    }

    @Test
    void reopeningAPathWhosePinWasRemovedIsENOENT() throws IOException {
        try (TempBpfDir dir = BpfFs.tempDir(); SockMap map = SockMap.builder().name("unpinned").create()) {
            Path pin = dir.resolve("was_here");
            map.pin(pin);
            Files.delete(pin); // unpinned: the map lives on through its fd only
            assertKernelRefused(() -> SockMap.openPinned(pin).close(), BpfException.class, Errno.ENOENT, GET,
                    pin.toString(), "no such path");
            assertThat(map.info().name()).isEqualTo("unpinned");
        }
    }

    @Test
    void openingABpffsDirectoryAsAMapIsEACCES() {
        try (TempBpfDir dir = BpfFs.tempDir()) {
            assertKernelRefused(() -> SockMap.openPinned(dir.path()).close(), PermissionException.class,
                    Errno.EACCES, GET, dir.path().toString(), "the path is not a pinned BPF object");
        }
    }

    @Test
    void aPinnedLinkOpenedAsAMapIsRefused() {
        KernelAssume.has(Feature.CGROUP_LINK);
        try (TempBpfDir dir = BpfFs.tempDir();
                TestCgroup cg = TestCgroup.create();
                Cgroup cgroup = Cgroup.open(cg.path());
                BpfObject obj = BpfObject.openBundled("bypass").load();
                SockOpsProgram ops = obj.sockOps("bypass_sockops");
                Attachment link = ops.attach(cgroup, AttachMode.LINK)) {
            Path pin = dir.resolve("link");
            link.pin(pin);
            assertRefused(() -> SockMap.openPinned(pin).close(), IllegalArgumentException.class,
                    "SockMap.openPinned", "the object pinned at " + pin + " is a link, not a map",
                    "open it with the class of its kind");
        }
    }

    @Test
    void aProgAttachHasNothingToPin() {
        try (TempBpfDir dir = BpfFs.tempDir();
                TestCgroup cg = TestCgroup.create();
                Cgroup cgroup = Cgroup.open(cg.path());
                BpfObject obj = BpfObject.openBundled("bypass").load();
                SockOpsProgram ops = obj.sockOps("bypass_sockops");
                Attachment attached = ops.attach(cgroup, AttachMode.PROG_ATTACH)) {
            Path pin = dir.resolve("prog_attach");
            assertRefused(() -> attached.pin(pin), IllegalStateException.class, "Attachment.pin",
                    "sock_ops program 'bypass_sockops' -> cgroup " + cg.path() + " (CGROUP_SOCK_OPS) is a PROG_ATTACH",
                    "attach with AttachMode.LINK");
            assertThat(pin).doesNotExist();
        }
    }
}
