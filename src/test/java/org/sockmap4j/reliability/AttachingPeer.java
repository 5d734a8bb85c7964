package org.sockmap4j.reliability;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import org.sockmap4j.AttachMode;
import org.sockmap4j.AttachType;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Cgroup;
import org.sockmap4j.ConnectionKey;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockMap;
import org.sockmap4j.SockOpsProgram;
import org.sockmap4j.recipes.LocalBypass;
import org.sockmap4j.testing.KernelIds;
import org.sockmap4j.testing.KernelIds.Kind;

/**
 * Run as a child JVM by {@link KilledChildTest}: attaches programs, prints the ids of the BPF
 * objects it holds, prints {@code ready}, and waits for its standard input to close (it is killed
 * with SIGKILL before). {@code args[0]} is the way, {@code args[1]} a cgroup directory:
 * <ul>
 * <li>{@code recipe}: {@link LocalBypass} on the cgroup (SOCK_OPS on it, SK_MSG on its SOCKHASH),
 *     plus the {@code redirect} object's SOCKMAP with an SK_MSG program attached and a loopback
 *     TCP socket in it; links where the kernel has them.</li>
 * <li>{@code prog_attach}: the bypass programs attached with BPF_PROG_ATTACH.</li>
 * <li>{@code pinned}: as links, with the SOCKHASH, the SK_MSG program and the cgroup link pinned
 *     under {@code args[2]} (as {@code map}, {@code prog} and {@code link}).</li>
 * <li>{@code idle}: nothing (a process to put into a cgroup).</li>
 * </ul>
 * The {@code prog_attach} and {@code pinned} ways first print {@code sock_hash ID sk_msg ID sock_ops ID}. Then every way
 * prints the ids it holds fds to, {@code map 1 2 prog 3 4 link 5}, and {@code ready}.
 */
public final class AttachingPeer {
    private AttachingPeer() {}

    public static void main(String[] args) throws Exception {
        String way = args[0];
        if (way.equals("idle")) {
            readyAndWait();
            return;
        }
        try (Cgroup cgroup = Cgroup.open(Path.of(args[1]))) {
            switch (way) {
                case "recipe" -> {
                    try (LocalBypass bypass = LocalBypass.attach(cgroup);
                         BpfObject redirect = BpfObject.openBundled("redirect").load();
                         SockMap map = redirect.sockMap("sock_map");
                         SkMsgProgram pass = redirect.skMsg("msg_pass");
                         Attachment onMap = pass.attach(map);
                         TcpPair tcp = TcpPair.open()) {
                        map.put(0, tcp.client());
                        readyAndWait();
                    }
                }
                case "prog_attach", "pinned" -> {
                    boolean pin = way.equals("pinned");
                    AttachMode mode = pin ? AttachMode.LINK : AttachMode.PROG_ATTACH;
                    try (BpfObject obj = BpfObject.openBundled("bypass").load();
                         SockHash<ConnectionKey> hash = obj.sockHash("sock_hash", ConnectionKey.codec());
                         SkMsgProgram msg = obj.skMsg("bypass_sk_msg");
                         SockOpsProgram ops = obj.sockOps("bypass_sockops");
                         Attachment onMap = msg.attach(hash, pin ? AttachMode.AUTO : mode);
                         Attachment onCgroup = ops.attach(cgroup, mode)) {
                        if (pin) {
                            Path dir = Path.of(args[2]);
                            hash.pin(dir.resolve("map"));
                            msg.pin(dir.resolve("prog"));
                            onCgroup.pin(dir.resolve("link"));
                        }
                        if (!cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS).contains(ops.id())) {
                            throw new AssertionError("sock_ops not attached");
                        }
                        System.out.println("sock_hash " + hash.id() + " sk_msg " + msg.id() + " sock_ops " + ops.id());
                        readyAndWait();
                    }
                }
                default -> throw new IllegalArgumentException(way);
            }
        }
    }

    private static void readyAndWait() throws Exception {
        Map<Kind, Set<Integer>> held = KernelIds.held();
        System.out.println("map " + join(held.get(Kind.MAP)) + " prog " + join(held.get(Kind.PROG)) + " link "
                + join(held.get(Kind.LINK)));
        System.out.println("ready");
        System.out.flush();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            while (in.readLine() != null) {
                // wait to be killed
            }
        }
    }

    private static String join(Set<Integer> ids) {
        return ids.stream().map(String::valueOf).collect(Collectors.joining(" "));
    }
}
