package org.sockmap4j.reliability;

import java.nio.file.Path;
import java.util.List;

import org.sockmap4j.AttachType;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfException;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Cgroup;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.KeyCodec;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockMap;
import org.sockmap4j.SockOpsProgram;
import org.sockmap4j.Sockets;

/**
 * Run as a child JVM under another user or with fewer capabilities by {@link PinPermissionsTest}
 * and {@link UnprivilegedCallerTest}: performs each action named in {@code args} and prints one
 * line per action, {@code ok DETAIL} or {@code failed ExceptionClass ERRNO}. Uses only the
 * library (the test class path's jars may be unreadable to the other user).
 * <ul>
 * <li>{@code open:PATH}: {@code SockHash.openPinned(PATH, u32)}; prints the map id.</li>
 * <li>{@code attach:DIR}: loads the bundled {@code bypass} object and attaches its SOCK_OPS
 *     program to the cgroup {@code DIR}; prints {@code link attached} or
 *     {@code prog_attach attached} as BPF_PROG_QUERY confirms it.</li>
 * <li>{@code create}: {@code SockMap.create(1)}.</li>
 * <li>{@code load}: loads the bundled {@code bypass} object.</li>
 * <li>{@code cookie}: the SO_COOKIE of a loopback TCP socket.</li>
 * <li>{@code probe}: the kernel features the probes report present, e.g. {@code [BPFFS,SOCKMAP]}.</li>
 * </ul>
 */
public final class CallerPeer {
    private CallerPeer() {}

    public static void main(String[] args) {
        for (String action : args) {
            try {
                System.out.println("ok " + run(action));
            } catch (BpfException e) {
                System.out.println("failed " + e.getClass().getSimpleName() + " " + e.errno());
            } catch (RuntimeException | Error e) {
                System.out.println("failed " + e.getClass().getSimpleName() + " " + e.getMessage());
            } catch (Exception e) {
                System.out.println("failed " + e);
            }
        }
        System.out.flush();
    }

    private static String run(String action) throws Exception {
        if (action.startsWith("attach:")) {
            try (Cgroup cgroup = Cgroup.open(Path.of(action.substring(7)));
                 BpfObject obj = BpfObject.openBundled("bypass").load();
                 SockOpsProgram ops = obj.sockOps("bypass_sockops");
                 Attachment attached = ops.attach(cgroup)) {
                return (attached.isLink() ? "link " : "prog_attach ")
                        + (cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS).equals(List.of(ops.id())) ? "attached" : "?");
            }
        }
        if (action.startsWith("open:")) {
            try (SockHash<Integer> hash = SockHash.openPinned(Path.of(action.substring(5)), KeyCodec.u32())) {
                return Integer.toString(hash.id());
            }
        }
        return switch (action) {
            case "create" -> {
                try (SockMap map = SockMap.create(1)) {
                    yield Integer.toString(map.id());
                }
            }
            case "load" -> {
                try (BpfObject obj = BpfObject.openBundled("bypass").load()) {
                    yield obj.toString();
                }
            }
            case "cookie" -> {
                try (TcpPair tcp = TcpPair.open()) {
                    yield Long.toString(Sockets.cookie(tcp.client()));
                }
            }
            case "probe" -> KernelFeatures.probe().all().entrySet().stream().filter(e -> e.getValue().present())
                    .map(e -> e.getKey().name()).sorted().collect(java.util.stream.Collectors.joining(",", "[", "]"));
            default -> throw new IllegalArgumentException(action);
        };
    }
}
