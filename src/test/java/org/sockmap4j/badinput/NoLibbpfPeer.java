package org.sockmap4j.badinput;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

import org.sockmap4j.BpfObject;
import org.sockmap4j.Cgroup;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.SockMap;
import org.sockmap4j.Sockets;
import org.sockmap4j.Splicer;
import org.sockmap4j.recipes.LocalBypass;

/**
 * Runs in a child JVM started with {@code -Dsockmap4j.libbpf} pointing at no library: maps still
 * work, everything that needs libbpf says what to install. Prints one {@link Outcome} per
 * scenario. Arguments: an object file, a cgroup directory.
 */
public final class NoLibbpfPeer {
    private NoLibbpfPeer() {}

    public static void main(String[] args) {
        Path objectFile = Path.of(args[0]);
        Path cgroup = Path.of(args[1]);
        Outcome.report("map", () -> {
            try (SockMap map = SockMap.builder().name("no_libbpf").maxEntries(2).create();
                    ServerSocketChannel listener = ServerSocketChannel.open()
                            .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
                    SocketChannel client = SocketChannel.open(listener.getLocalAddress());
                    SocketChannel server = listener.accept()) {
                map.put(0, client);
                map.put(1, server);
                return "cookies " + (map.cookie(0) == Sockets.cookie(client)) + " "
                        + (map.cookie(1) == Sockets.cookie(server)) + " id " + (map.id() > 0);
            }
        });
        Outcome.report("openBundled", () -> {
            BpfObject.openBundled("bypass").close();
            return "opened";
        });
        Outcome.report("openFile", () -> {
            BpfObject.open(objectFile).close();
            return "opened";
        });
        Outcome.report("recipe", () -> {
            try (Cgroup cg = Cgroup.open(cgroup)) {
                LocalBypass.attach(cg).close();
            }
            return "attached";
        });
        Outcome.report("splicer", () -> {
            Splicer.create().close();
            return "created";
        });
        Outcome.report("probe", () -> {
            KernelFeatures k = KernelFeatures.probe();
            return "sockhash " + k.has(KernelFeatures.Feature.SOCKHASH) + "; sockmap_iter "
                    + k.all().get(KernelFeatures.Feature.SOCKMAP_ITER);
        });
        System.out.println("done");
    }
}
