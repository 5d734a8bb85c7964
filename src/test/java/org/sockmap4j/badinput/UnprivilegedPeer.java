package org.sockmap4j.badinput;

import java.nio.file.Files;
import java.nio.file.Path;

import org.sockmap4j.Attachment;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Cgroup;
import org.sockmap4j.SockMap;
import org.sockmap4j.SockOpsProgram;

/**
 * Runs in a child JVM as an unprivileged user (uid 65534, no capabilities): each entry point of
 * the library that needs privileges, one {@link Outcome} per scenario. Arguments: a pinned map it
 * may open, a pinned map only root may open, a pinned SOCK_OPS program only root may open, the
 * same program pinned for all, a cgroup directory, and a path in a root-owned bpffs directory.
 */
public final class UnprivilegedPeer {
    private UnprivilegedPeer() {}

    public static void main(String[] args) {
        Path openMap = Path.of(args[0]);
        Path rootOnlyMap = Path.of(args[1]);
        Path rootOnlyProgram = Path.of(args[2]);
        Path sharedProgram = Path.of(args[3]);
        Path cgroup = Path.of(args[4]);
        Path pinAt = Path.of(args[5]);
        Outcome.report("who", () -> {
            String uid = "";
            String capEff = "";
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    uid = line.substring(4).trim().split("\\s+")[1]; // effective
                } else if (line.startsWith("CapEff:")) {
                    capEff = line.substring(7).trim();
                }
            }
            return "uid " + uid + " capeff " + capEff;
        });
        // how the kernel gates bpf() for unprivileged users: per command (6.5+: ENOENT here), or
        // every command at once while kernel.unprivileged_bpf_disabled is set (before 6.5: EPERM)
        Outcome.report("bpfGate", () -> {
            SockMap.openPinned(pinAt.resolveSibling("no_such_pin")).close();
            return "opened";
        });
        Outcome.report("createMap", () -> {
            SockMap.builder().name("unpriv").create().close();
            return "created";
        });
        Outcome.report("loadObject", () -> {
            BpfObject.openBundled("bypass").load().close();
            return "loaded";
        });
        Outcome.report("attachToCgroup", () -> {
            try (SockOpsProgram ops = SockOpsProgram.openPinned(rootOnlyProgram); Cgroup cg = Cgroup.open(cgroup)) {
                ops.attach(cg).close();
            }
            return "attached";
        });
        Outcome.report("attachWithASharedPin", () -> {
            try (SockOpsProgram ops = SockOpsProgram.openPinned(sharedProgram); Cgroup cg = Cgroup.open(cgroup);
                    Attachment a = ops.attach(cg)) {
                // BPF_PROG_QUERY needs CAP_NET_ADMIN; the link's own info does not
                return "attached: link " + a.isLink() + ", kernel link id " + (a.linkId() > 0);
            }
        });
        Outcome.report("pin", () -> {
            try (SockMap map = SockMap.openPinned(openMap)) {
                map.pin(pinAt);
            }
            return "pinned";
        });
        Outcome.report("openRootOnlyPin", () -> {
            SockMap.openPinned(rootOnlyMap).close();
            return "opened";
        });
        System.out.println("done");
    }
}
