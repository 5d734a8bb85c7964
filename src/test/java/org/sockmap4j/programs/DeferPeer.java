package org.sockmap4j.programs;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

import org.sockmap4j.Sockets;
import org.sockmap4j.internal.unix.Libc;

/**
 * Two messages, with a pause, from a client that sends right after connect() to a server whose
 * listener has TCP_DEFER_ACCEPT (as nginx's {@code listen ... deferred} and HAProxy's
 * {@code defer-accept} set it): the kernel makes the server socket only when the first data arrives. Protocol: prints
 * {@code ready}, waits for {@code go}, then:
 * <ul>
 * <li>{@code server HOST PORT}: listens with TCP_DEFER_ACCEPT, prints {@code listening}; prints
 * {@code accepted} once a connection is accepted; on {@code read} reads 2 x 1000 bytes and prints
 * {@code order ok} if the first 1000 are all 'A' and the next all 'B', else {@code order bad ...};</li>
 * <li>{@code client HOST PORT}: connects and at once sends 1000 x 'A', prints {@code sent 1}; on
 * {@code send} sends 1000 x 'B', prints {@code sent 2}; exits on {@code end}.</li>
 * </ul>
 */
public final class DeferPeer {
    private static final int TCP_DEFER_ACCEPT = 9;
    private static final int IPPROTO_TCP = 6;

    private DeferPeer() {}

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        System.out.println("ready");
        System.out.flush();
        if (!"go".equals(in.readLine())) {
            return;
        }
        InetSocketAddress addr = new InetSocketAddress(args[1], Integer.parseInt(args[2]));
        if (args[0].equals("server")) {
            try (ServerSocketChannel srv = ServerSocketChannel.open().bind(addr);
                 Arena arena = Arena.ofConfined()) {
                MemorySegment seconds = arena.allocate(ValueLayout.JAVA_INT);
                seconds.set(ValueLayout.JAVA_INT, 0, 10);
                if (Libc.setsockopt(Sockets.fd(srv), IPPROTO_TCP, TCP_DEFER_ACCEPT, seconds, 4) != 0) {
                    System.out.println("setsockopt TCP_DEFER_ACCEPT failed");
                    return;
                }
                System.out.println("listening");
                System.out.flush();
                try (SocketChannel c = srv.accept()) {
                    System.out.println("accepted");
                    System.out.flush();
                    if (!"read".equals(in.readLine())) {
                        return;
                    }
                    ByteBuffer b = ByteBuffer.allocate(2000);
                    while (b.hasRemaining() && c.read(b) > 0) {
                        // keep reading
                    }
                    for (int i = 0; i < 2000; i++) {
                        byte want = (byte) (i < 1000 ? 'A' : 'B');
                        if (b.get(i) != want) {
                            System.out.println("order bad: byte " + i + " is '" + (char) b.get(i) + "'");
                            System.out.flush();
                            return;
                        }
                    }
                    System.out.println("order ok");
                }
            }
        } else {
            try (SocketChannel c = SocketChannel.open(addr)) {
                c.write(ByteBuffer.wrap("A".repeat(1000).getBytes(StandardCharsets.US_ASCII)));
                System.out.println("sent 1");
                System.out.flush();
                if (!"send".equals(in.readLine())) {
                    return;
                }
                c.write(ByteBuffer.wrap("B".repeat(1000).getBytes(StandardCharsets.US_ASCII)));
                System.out.println("sent 2");
                System.out.flush();
                in.readLine();
            }
        }
        System.out.flush();
    }
}
