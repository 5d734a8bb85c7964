package org.sockmap4j.cli;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Arrays;

/**
 * The built-in TCP ping-pong used by {@code bench latency} when sockperf is not installed.
 * {@code server HOST PORT} echoes one connection at a time; {@code client HOST PORT SECONDS}
 * sends 14-byte messages back to back for SECONDS (at most 20 million) and prints one line with
 * one-way latency (half the round trip, in microseconds) like sockperf's.
 */
public final class PingPongPeer {
    private PingPongPeer() {}

    private static final int SIZE = 14;
    private static final int MAX_SAMPLES = 20_000_000;

    public static void main(String[] args) throws IOException {
        InetSocketAddress addr = new InetSocketAddress(args[1], Integer.parseInt(args[2]));
        if (args[0].equals("server")) {
            try (ServerSocketChannel srv = ServerSocketChannel.open().bind(addr)) {
                while (true) {
                    try (SocketChannel c = srv.accept()) {
                        c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                        ByteBuffer b = ByteBuffer.allocateDirect(SIZE);
                        while (true) {
                            b.clear();
                            while (b.hasRemaining()) {
                                if (c.read(b) < 0) {
                                    break;
                                }
                            }
                            if (b.hasRemaining()) {
                                break;
                            }
                            b.flip();
                            while (b.hasRemaining()) {
                                c.write(b);
                            }
                        }
                    }
                }
            }
        }
        long seconds = Long.parseLong(args[3]);
        long[] rtt = new long[1 << 16];
        int n = 0;
        try (SocketChannel c = SocketChannel.open(addr)) {
            c.setOption(StandardSocketOptions.TCP_NODELAY, true);
            ByteBuffer b = ByteBuffer.allocateDirect(SIZE);
            long start = System.nanoTime();
            long end = start + seconds * 1_000_000_000L;
            long now = start;
            while (now < end && n < MAX_SAMPLES) {
                b.clear();
                c.write(b);
                b.clear();
                while (b.hasRemaining()) {
                    if (c.read(b) < 0) {
                        throw new IOException("server closed");
                    }
                }
                long t = System.nanoTime();
                if (n == rtt.length) {
                    rtt = Arrays.copyOf(rtt, rtt.length * 2);
                }
                rtt[n++] = t - now;
                now = t;
            }
            Arrays.sort(rtt, 0, n);
            double sum = 0;
            for (int i = 0; i < n; i++) {
                sum += rtt[i];
            }
            double elapsed = (now - start) / 1e9;
            System.out.printf("avg=%.3f p50=%.3f p99=%.3f p999=%.3f max=%.3f msgs_per_sec=%.1f%n",
                    sum / n / 2000.0, rtt[(int) (n * 0.50)] / 2000.0, rtt[(int) (n * 0.99)] / 2000.0,
                    rtt[(int) Math.min(n - 1, n * 0.999)] / 2000.0, rtt[n - 1] / 2000.0, n / elapsed);
        }
    }
}
