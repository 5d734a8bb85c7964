package org.sockmap4j.reliability;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Cgroup;
import org.sockmap4j.ConnectionKey;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.KernelFeatures.Feature;
import org.sockmap4j.KeyCodec;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockOpsProgram;
import org.sockmap4j.recipes.LocalBypass;
import org.sockmap4j.testing.BpfFs;
import org.sockmap4j.testing.ChildProcess;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.KernelAssume;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TempBpfDir;
import org.sockmap4j.testing.TempMount;
import org.sockmap4j.testing.TestCgroup;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Pins are owner-only ({@code rw-------}) unless the caller asks for other permissions, whatever
 * the process's umask; the permissions decide who can reopen a pin (checked as user nobody); and
 * no operation of the library changes the modes of bpffs or cgroup directories.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(120)
class PinPermissionsTest {
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    private static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    /**
     * umask 022 is the usual one; with 0277 the kernel alone would make pins {@code r--------},
     * with 0 it makes them {@code rw-------} too: the library sets the mode explicitly either way.
     */
    @ParameterizedTest
    @ValueSource(ints = {0022, 0277, 0})
    void mapProgramAndLinkPinsAreOwnerOnlyWhateverTheUmask(int umask) throws Exception {
        KernelAssume.has(Feature.CGROUP_LINK, "only links can be pinned");
        try (TempBpfDir dir = BpfFs.tempDir(); TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path());
             BpfObject obj = BpfObject.openBundled("bypass").load();
             SockHash<ConnectionKey> hash = obj.sockHash("sock_hash", ConnectionKey.codec());
             SockOpsProgram ops = obj.sockOps("bypass_sockops");
             Attachment link = ops.attach(cgroup)) {
            int old = Posix.umask(umask);
            try {
                hash.pin(dir.resolve("map"));
                ops.pin(dir.resolve("prog"));
                link.pin(dir.resolve("link"));
            } finally {
                Posix.umask(old);
            }
            assertThat(mode(dir.resolve("map"))).isEqualTo("rw-------");
            assertThat(mode(dir.resolve("prog"))).isEqualTo("rw-------");
            assertThat(mode(dir.resolve("link"))).isEqualTo("rw-------");
            assertThat(Files.getOwner(dir.resolve("map")).getName()).isEqualTo("root");
        }
    }

    @Test
    void askedPermissionsAreWhatThePinGets() throws Exception {
        try (TempBpfDir dir = BpfFs.tempDir();
             BpfObject obj = BpfObject.openBundled("bypass").load();
             SockHash<ConnectionKey> hash = obj.sockHash("sock_hash", ConnectionKey.codec());
             SkMsgProgram msg = obj.skMsg("bypass_sk_msg")) {
            hash.pin(dir.resolve("group"), PosixFilePermissions.fromString("rw-rw----"));
            hash.pin(dir.resolve("everyone"), PosixFilePermissions.fromString("rw-rw-rw-"));
            msg.pin(dir.resolve("readonly"), PosixFilePermissions.fromString("r--------"));
            assertThat(mode(dir.resolve("group"))).isEqualTo("rw-rw----");
            assertThat(mode(dir.resolve("everyone"))).isEqualTo("rw-rw-rw-");
            assertThat(mode(dir.resolve("readonly"))).isEqualTo("r--------");
        }
    }

    /**
     * BPF_OBJ_GET checks the pin's permissions like open(2): user nobody, even with CAP_BPF and
     * CAP_NET_ADMIN, cannot open a default (owner-only) pin of root's (EACCES); it can open one
     * pinned {@code rw-rw-rw-}, and so can nobody without any capability.
     */
    @Test
    void onlyThePinsOwnerCanReopenADefaultPin() throws Exception {
        // a private bpffs: the system's may be 0700 (systemd's default, the vmtest guests'), which
        // would close every pin to others whatever its own mode
        try (TempMount mnt = TempMount.of("bpf", "mode=0755", "bpf"); // unmounting takes the pins with it
                SockHash<Integer> hash = SockHash.create(KeyCodec.u32(), 1)) {
            Path dir = Files.createDirectory(mnt.path().resolve("pins"),
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
            Path ownerOnly = dir.resolve("owner_only");
            Path everyone = dir.resolve("everyone");
            hash.pin(ownerOnly);
            hash.pin(everyone, PosixFilePermissions.fromString("rw-rw-rw-"));
            String id = Integer.toString(hash.id());

            assertThat(OtherUser.run(true, "open:" + ownerOnly, "open:" + everyone))
                    .containsExactly("failed PermissionException EACCES", "ok " + id);
            // without capabilities: before 6.5, while kernel.unprivileged_bpf_disabled is set, the
            // kernel refuses every bpf() command (EPERM) before any file permission is looked at
            boolean refusedOutright = OtherUser.run(false, "open:" + dir.resolve("no_such_pin")).get(0)
                    .contains("EPERM");
            assertThat(OtherUser.run(false, "open:" + ownerOnly, "open:" + everyone)).containsExactly(
                    refusedOutright ? "failed PermissionException EPERM" : "failed PermissionException EACCES",
                    refusedOutright ? "failed PermissionException EPERM" : "ok " + id);
        }
    }

    /** Modes of the bpffs and cgroup directories (and the cgroup's control files) the operations touch. */
    private static Map<Path, String> modes(List<Path> paths) throws IOException {
        Map<Path, String> m = new LinkedHashMap<>();
        for (Path p : paths) {
            m.put(p, mode(p) + " " + Files.getOwner(p).getName());
        }
        return m;
    }

    @Test
    void noOperationWidensBpffsOrCgroupDirectories() throws Exception {
        try (TempBpfDir dir = BpfFs.tempDir(); TestCgroup cg = TestCgroup.create();
             ChildProcess member = ChildProcess.start(AttachingPeer.class, "idle")) {
            Path bpffs = dir.path().getParent();
            List<Path> watched = List.of(bpffs, dir.path(), cg.hierarchyRoot(), cg.path(),
                    cg.path().resolve("cgroup.procs"), cg.path().resolve("cgroup.threads"),
                    cg.hierarchyRoot().resolve("cgroup.procs"));
            Map<Path, String> before = modes(watched);

            KernelFeatures.probe(); // creates and removes a probe cgroup, if not done yet
            try (Cgroup cgroup = Cgroup.open(cg.path());
                 LocalBypass bypass = LocalBypass.attach(cgroup);
                 BpfObject obj = BpfObject.openBundled("bypass").load();
                 SockHash<ConnectionKey> hash = obj.sockHash("sock_hash", ConnectionKey.codec());
                 SkMsgProgram msg = obj.skMsg("bypass_sk_msg")) {
                cgroup.addProcess(member.pid());
                hash.pin(dir.resolve("map"));
                hash.pin(dir.resolve("map_for_all"), PosixFilePermissions.fromString("rw-rw-rw-"));
                msg.pin(dir.resolve("prog"));
                try (SockHash<ConnectionKey> again = SockHash.openPinned(dir.resolve("map_for_all"), ConnectionKey.codec())) {
                    assertThat(again.id()).isEqualTo(hash.id());
                }
            }
            assertThat(modes(watched)).isEqualTo(before);
        }
    }
}
