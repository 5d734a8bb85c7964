package org.sockmap4j.cli;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The clients of {@code bench proxy}: round trips on one connection, and bulk echo transfers.
 * Every byte echoed back is checked against what was sent (a pattern whose period, a prime, no
 * segment size divides), so a lost, repeated or reordered segment fails the bench.
 */
final class LoadClients {
    private LoadClients() {}

    private static final int PERIOD = 65521;
    private static final int CHUNK = 256 * 1024;
    /** The stream's bytes: byte i is PATTERN[i % PERIOD]; long enough to slice a whole chunk anywhere. */
    private static final byte[] PATTERN = pattern();

    private static byte[] pattern() {
        byte[] p = new byte[PERIOD + CHUNK];
        java.util.SplittableRandom r = new java.util.SplittableRandom(0x5eed);
        for (int i = 0; i < PERIOD; i++) {
            p[i] = (byte) r.nextInt(256);
        }
        for (int i = PERIOD; i < p.length; i++) {
            p[i] = p[i - PERIOD];
        }
        return p;
    }

    /** Throws if {@code n} bytes of {@code b} read at stream offset {@code at} are not the pattern. */
    private static void check(byte[] b, int n, long at) throws IOException {
        int from = (int) (at % PERIOD);
        int mismatch = Arrays.mismatch(b, 0, n, PATTERN, from, from + n);
        if (mismatch >= 0) {
            throw new IOException("echoed data differs from what was sent at stream offset " + (at + mismatch));
        }
    }

    /** Round trips of one message size: mean and p99 in microseconds, bytes moved each way. */
    record RoundTrips(double meanUs, double p99Us, long bytesEachWay) {}

    /**
     * {@code count} round trips of {@code size}-byte messages on one connection (a tenth more
     * first, to warm up): write the message, read it back.
     */
    static RoundTrips roundTrips(InetSocketAddress target, int size, int count) throws IOException {
        try (SocketChannel c = SocketChannel.open(target)) {
            Thread watchdog = Thread.ofVirtual().start(() -> { // bounded in time: a stalled proxy fails the run
                try {
                    Thread.sleep(Duration.ofMinutes(5));
                    c.close();
                } catch (InterruptedException | IOException done) {
                    // finished in time
                }
            });
            try {
                return roundTrips(c, size, count);
            } catch (java.nio.channels.ClosedChannelException e) {
                throw new Errors.UserError("the round trips did not finish in 5 minutes");
            } finally {
                watchdog.interrupt();
            }
        }
    }

    private static RoundTrips roundTrips(SocketChannel c, int size, int count) throws IOException {
        c.setOption(StandardSocketOptions.TCP_NODELAY, true);
        ByteBuffer in = ByteBuffer.allocate(Math.min(size, CHUNK));
        long[] rtt = new long[count];
        int warm = Math.max(1, count / 10);
        for (int i = -warm; i < count; i++) {
            long t = System.nanoTime();
            for (long sent = 0; sent < size;) {
                sent += c.write(ByteBuffer.wrap(PATTERN, (int) (sent % PERIOD), (int) Math.min(CHUNK, size - sent)));
            }
            for (long got = 0; got < size;) {
                int n = c.read(in.clear().limit((int) Math.min(in.capacity(), size - got)));
                if (n < 0) {
                    throw new IOException("closed during the round trips");
                }
                check(in.array(), n, got);
                got += n;
            }
            if (i >= 0) {
                rtt[i] = System.nanoTime() - t;
            }
        }
        Arrays.sort(rtt);
        return new RoundTrips(Arrays.stream(rtt).average().orElse(0) / 1000.0,
                rtt[Math.min(count - 1, (int) (count * 0.99))] / 1000.0, (long) (count + warm) * size);
    }

    /** Something to do once every connection is up, before the bulk data flows (a CPU snapshot). */
    interface Ready {
        void ready() throws IOException;
    }

    /**
     * {@code connections} connections each send {@code bytes} and read them back, concurrently;
     * returns the seconds the transfer took. Each connection first echoes one byte, so a proxy has
     * set it up (a splice proxy: handed it to the kernel) before {@code ready} runs and the
     * transfer starts; {@code done} runs when the last byte is back, before the connections
     * close: the figures are those of established connections.
     */
    static double bulk(InetSocketAddress target, int connections, long bytes, Ready ready, Ready done)
            throws Exception {
        List<SocketChannel> channels = new ArrayList<>();
        try {
            for (int i = 0; i < connections; i++) {
                SocketChannel c = SocketChannel.open(target);
                channels.add(c);
                c.write(ByteBuffer.wrap(PATTERN, 0, 1));
            }
            ByteBuffer one = ByteBuffer.allocate(1);
            for (SocketChannel c : channels) {
                if (c.read(one.clear()) != 1) {
                    throw new IOException("no echo of the first byte");
                }
                check(one.array(), 1, 0);
            }
            ready.ready();
            long t0 = System.nanoTime();
            List<Thread> threads = new ArrayList<>();
            List<Throwable> failures = new ArrayList<>();
            for (SocketChannel c : channels) {
                threads.add(Thread.ofPlatform().start(() -> guard(failures, () -> {
                    ByteBuffer b = ByteBuffer.allocate(CHUNK);
                    for (long got = 0; got < bytes;) {
                        int n = c.read(b.clear().limit((int) Math.min(CHUNK, bytes - got)));
                        if (n < 0) {
                            throw new IOException("closed after " + got + " bytes");
                        }
                        check(b.array(), n, 1 + got);
                        got += n;
                    }
                })));
                threads.add(Thread.ofPlatform().start(() -> guard(failures, () -> {
                    for (long sent = 0; sent < bytes;) {
                        int from = (int) ((1 + sent) % PERIOD);
                        sent += c.write(ByteBuffer.wrap(PATTERN, from, (int) Math.min(CHUNK, bytes - sent)));
                    }
                })));
            }
            for (Thread t : threads) {
                if (!t.join(Duration.ofMinutes(5))) {
                    throw new Errors.UserError("a transfer did not finish in 5 minutes");
                }
            }
            if (!failures.isEmpty()) {
                throw new Errors.UserError("a transfer failed: " + failures.get(0));
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            done.ready(); // before the connections close: their teardown is not the transfer's cost
            return secs;
        } finally {
            for (SocketChannel c : channels) {
                c.close();
            }
        }
    }

    private interface Io {
        void run() throws IOException;
    }

    private static void guard(List<Throwable> failures, Io io) {
        try {
            io.run();
        } catch (Throwable t) {
            synchronized (failures) {
                failures.add(t);
            }
        }
    }
}
