package org.sockmap4j.programs;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/**
 * A TCP ping-pong peer run as a child process, so a test can place it in a cgroup and a network
 * namespace before it opens any socket. Protocol on stdin/stdout: prints {@code ready}, waits for
 * {@code go}, then:
 * <ul>
 * <li>{@code server HOST PORT}: accepts one connection, echoes every byte until EOF, prints
 * {@code done BYTES};</li>
 * <li>{@code client HOST PORT COUNT SIZE}: sends COUNT messages of SIZE bytes with a counter
 * pattern, reads each echo back, checks it byte for byte, prints {@code ok COUNT} or
 * {@code bad ...}.</li>
 * </ul>
 */
public final class PingPong {
    private PingPong() {}

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        System.out.println("ready");
        System.out.flush();
        if (!"go".equals(in.readLine())) {
            return;
        }
        InetSocketAddress addr = new InetSocketAddress(args[1], Integer.parseInt(args[2]));
        if (args[0].equals("server")) {
            try (ServerSocketChannel srv = ServerSocketChannel.open().bind(addr)) {
                System.out.println("listening");
                System.out.flush();
                try (SocketChannel c = srv.accept()) {
                    ByteBuffer buf = ByteBuffer.allocate(65536);
                    long total = 0;
                    while (c.read(buf) > 0) {
                        buf.flip();
                        total += buf.remaining();
                        while (buf.hasRemaining()) {
                            c.write(buf);
                        }
                        buf.clear();
                    }
                    System.out.println("done " + total);
                }
            }
        } else {
            int count = Integer.parseInt(args[3]);
            int size = Integer.parseInt(args[4]);
            try (SocketChannel c = SocketChannel.open(addr)) {
                c.setOption(java.net.StandardSocketOptions.TCP_NODELAY, true);
                System.out.println("connected");
                System.out.flush();
                if (!"start".equals(in.readLine())) {
                    return;
                }
                ByteBuffer out = ByteBuffer.allocate(size);
                ByteBuffer back = ByteBuffer.allocate(size);
                for (int i = 0; i < count; i++) {
                    out.clear();
                    for (int j = 0; j < size; j++) {
                        out.put((byte) (i * 31 + j));
                    }
                    out.flip();
                    while (out.hasRemaining()) {
                        c.write(out);
                    }
                    back.clear();
                    while (back.hasRemaining()) {
                        if (c.read(back) < 0) {
                            System.out.println("bad eof at " + i);
                            return;
                        }
                    }
                    for (int j = 0; j < size; j++) {
                        if (back.get(j) != (byte) (i * 31 + j)) {
                            System.out.println("bad byte " + j + " of message " + i);
                            return;
                        }
                    }
                }
                System.out.println("ok " + count);
            }
        }
        System.out.flush();
    }
}
