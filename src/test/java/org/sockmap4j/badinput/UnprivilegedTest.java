package org.sockmap4j.badinput;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.sockmap4j.AttachType;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Cgroup;
import org.sockmap4j.SockMap;
import org.sockmap4j.SockOpsProgram;
import org.sockmap4j.testing.BpfFs;
import org.sockmap4j.testing.Exec;
import org.sockmap4j.testing.Nobody;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TempBpfDir;
import org.sockmap4j.testing.TempMount;
import org.sockmap4j.testing.TestCgroup;

/**
 * Running without privileges: a child JVM under {@code setpriv --reuid=65534 --regid=65534
 * --clear-groups} with no capabilities in any set ({@link UnprivilegedPeer}) calls each entry
 * point that needs them. Every one is a single clear {@link org.sockmap4j.PermissionException}
 * naming the kernel call and the object, with the privilege hint; nothing was created, attached
 * or pinned (checked here as root); the JVM exits normally. This JVM (root) prepares what the
 * child may open: a map pinned for all, and root-only pins (bpffs's default mode, 0600).
 *
 * <p>Not refused, and checked as such: attaching a SOCK_OPS program from a pin the user may open
 * to a cgroup directory the user may read. Since Linux 6.5 only map and program creation check
 * privileges; everything else is guarded by access to the fds, i.e. by the pins' modes.
 */
@Privileged
@Timeout(120)
class UnprivilegedTest {
    private static final List<String> NOBODY = Nobody.withoutCapabilities();
    private static final String PRIVILEGE_HINT = "needs root or CAP_BPF+CAP_NET_ADMIN";

    /** A private bpffs (mode 0755): the system's may be 0700 (systemd's default), closing every pin to others. */
    private static TempMount bpffs;
    private static Path dir;
    private static TestCgroup cgroup;
    private static ChildJvm.Run run;

    @BeforeAll
    static void runTheChild() throws IOException {
        assertThat(Exec.run("setpriv", "--version").ok()).as("setpriv (util-linux) installed").isTrue();
        bpffs = TempMount.of("bpf", "mode=0755", "bpf");
        // a directory of its own: a fresh bpffs root also holds the kernel's maps.debug/progs.debug
        dir = Files.createDirectory(bpffs.path().resolve("pins"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        cgroup = TestCgroup.create();
        Path openMap = dir.resolve("open_map");
        Path rootOnly = dir.resolve("root_only_map");
        Path program = dir.resolve("sock_ops");
        Path shared = dir.resolve("sock_ops_shared");
        try (SockMap a = SockMap.builder().name("open_map").create();
                SockMap b = SockMap.builder().name("root_only").create();
                BpfObject obj = BpfObject.openBundled("bypass").load();
                SockOpsProgram ops = obj.sockOps("bypass_sockops")) {
            a.pin(openMap);
            b.pin(rootOnly); // bpffs pins are 0600: only root opens it
            ops.pin(program);
            ops.pin(shared);
        }
        for (Path p : List.of(openMap, shared)) {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-rw-rw-"));
        }
        assertThat(Files.getPosixFilePermissions(dir)).doesNotContain(
                java.nio.file.attribute.PosixFilePermission.OTHERS_WRITE); // the child may not pin there
        // -XX:-UsePerfData: no /tmp/hsperfdata_nobody left behind
        run = ChildJvm.run(NOBODY, UnprivilegedPeer.class, List.of("-XX:-UsePerfData"), openMap.toString(),
                rootOnly.toString(), program.toString(), shared.toString(), cgroup.path().toString(),
                dir.resolve("child_pin").toString());
    }

    @AfterAll
    static void cleanUp() {
        try {
            if (cgroup != null) {
                cgroup.close();
            }
        } finally {
            if (bpffs != null) {
                bpffs.close(); // the unmount takes every pin with it
            }
        }
    }

    private static void assertPermission(Outcome o, String errno, String operation, String object, String hint) {
        assertThat(o.type()).as("%s", o).isEqualTo("PermissionException");
        assertThat(o.errno()).as("%s", o).isEqualTo(errno);
        assertThat(o.operation()).isEqualTo(operation);
        assertThat(o.object()).contains(object);
        assertThat(o.hint()).contains(hint);
        assertThat(o.message()).startsWith(operation + " on " + o.object() + ": " + errno + " (" + o.hint() + ")");
    }

    @Test
    void theChildRanUnprivilegedAndExitedNormally() {
        run.assertExitedNormally();
        Outcome who = run.of("who");
        assertThat(who.message()).isEqualTo("uid 65534 capeff 0000000000000000");
    }

    /**
     * Before 6.5, with kernel.unprivileged_bpf_disabled set (Debian's default), the kernel refuses
     * every bpf() command to an unprivileged caller with EPERM, so a pin's permissions never
     * come into play; from 6.5 each command checks its own (BPF_OBJ_GET: the file's permissions).
     */
    private static boolean bpfRefusedOutright() {
        Outcome gate = run.of("bpfGate");
        if (gate.errno().equals("EPERM")) {
            String[] v = System.getProperty("os.version").split("[.-]");
            int major = Integer.parseInt(v[0]);
            int minor = Integer.parseInt(v[1]);
            assertThat(major > 6 || (major == 6 && minor >= 5)).as("per-command checks exist from 6.5; %s", gate)
                    .isFalse();
            return true;
        }
        assertThat(gate.errno()).as("%s", gate).isEqualTo("ENOENT");
        return false;
    }

    @Test
    void creatingAMapIsEPERM() {
        assertPermission(run.of("createMap"), "EPERM", "BPF_MAP_CREATE", "sockmap 'unpriv'", PRIVILEGE_HINT);
    }

    @Test
    void loadingAnObjectIsEPERM() {
        assertPermission(run.of("loadObject"), "EPERM", "bpf_object__load", "BPF object 'bypass'", PRIVILEGE_HINT);
    }

    @Test
    void attachingToACgroupIsEACCESForTheProgramPinAndAttachesNothing() {
        assertPermission(run.of("attachToCgroup"), bpfRefusedOutright() ? "EPERM" : "EACCES", "BPF_OBJ_GET", dir.resolve("sock_ops").toString(),
                "its permissions deny access");
        try (Cgroup cg = Cgroup.open(cgroup.path())) {
            assertThat(cg.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).isEmpty();
        }
    }

    /** The kernel's model, not a refusal: a pin the user may open gives a program it may attach. */
    @Test
    void aProgramPinnedForAllAttachesWithoutPrivilegesAndLeavesWithTheLink() {
        if (bpfRefusedOutright()) {
            org.junit.jupiter.api.Assumptions.abort("kernel lacks per-command bpf() permission checks (since Linux 6.5):"
                    + " with kernel.unprivileged_bpf_disabled set, every command is refused to unprivileged users");
        }
        Outcome o = run.of("attachWithASharedPin");
        assertThat(o.type()).as("%s", o).isEqualTo("ok");
        assertThat(o.message()).isEqualTo("attached: link true, kernel link id true");
        try (Cgroup cg = Cgroup.open(cgroup.path())) { // the child's link went with its fds
            assertThat(cg.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).isEmpty();
        }
    }

    @Test
    void pinningInARootOwnedDirectoryIsEACCESAndPinsNothing() throws IOException {
        if (bpfRefusedOutright()) { // the child cannot even open the map it would pin
            assertPermission(run.of("pin"), "EPERM", "BPF_OBJ_GET", dir.resolve("open_map").toString(),
                    "its permissions deny access");
        } else {
            assertPermission(run.of("pin"), "EACCES", "BPF_OBJ_PIN", "sockmap 'open_map' at "
                    + dir.resolve("child_pin"), "writable by this user");
        }
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder("open_map", "root_only_map", "sock_ops", "sock_ops_shared");
        }
    }

    @Test
    void openingARootOnlyPinIsEACCES() {
        assertPermission(run.of("openRootOnlyPin"), bpfRefusedOutright() ? "EPERM" : "EACCES", "BPF_OBJ_GET", dir.resolve("root_only_map").toString(),
                "its permissions deny access");
    }
}
