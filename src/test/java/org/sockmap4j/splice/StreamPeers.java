package org.sockmap4j.splice;

import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The two ends of an integrity test connection through a proxy: the client sends an 8-byte
 * connection id and then its stream while receiving the reply; the upstream reads the id, sends
 * the reply stream while receiving and checking the client's. Both directions run at once;
 * each stream is named by the id ({@link #seed}).
 */
public final class StreamPeers {
    private StreamPeers() {}

    /** Bytes of the connection id the client sends first. */
    public static final int ID_BYTES = 8;

    /** The seed of connection {@code id}'s stream in one direction. */
    public static long seed(int id, boolean clientToUpstream) {
        return 2L * id + (clientToUpstream ? 0 : 1) + 0x5eed_0000L;
    }

    /** The client end; returns the digest of the reply it received. */
    public static Streams.Digest client(SocketChannel ch, int id, long bytes, int chunk, ExecutorService threads)
            throws Exception {
        try (ch) {
            ByteBuffer hdr = ByteBuffer.allocate(ID_BYTES).putLong(0, id);
            while (hdr.hasRemaining()) {
                ch.write(hdr);
            }
            Future<Streams.Digest> sent = threads.submit(() -> {
                Streams.Digest d = Streams.send(ch, seed(id, true), bytes, chunk);
                ch.shutdownOutput();
                return d;
            });
            Streams.Digest got = Streams.receive(ch, chunk);
            sent.get();
            return got;
        }
    }

    /**
     * Accepts {@code count} connections on {@code server}, each served by {@link #upstream} on a
     * task of its own whose future is added to {@code atUpstream} (under its lock).
     */
    public static Future<?> acceptUpstreams(ServerSocketChannel server, int count, long bytes, int chunk,
            ExecutorService threads, List<Future<Streams.Digest>> atUpstream) {
        return threads.submit(() -> {
            for (int i = 0; i < count; i++) {
                SocketChannel up = server.accept();
                synchronized (atUpstream) {
                    atUpstream.add(threads.submit(() -> upstream(up, bytes, chunk, threads)));
                }
            }
            return null;
        });
    }

    /** The upstream end; asserts the client's stream arrived intact and returns its digest. */
    public static Streams.Digest upstream(SocketChannel up, long bytes, int chunk, ExecutorService threads)
            throws Exception {
        try (up) {
            ByteBuffer hdr = ByteBuffer.allocate(ID_BYTES);
            while (hdr.hasRemaining()) {
                if (up.read(hdr) < 0) {
                    throw new AssertionError("upstream: end of stream before the connection id");
                }
            }
            int id = (int) hdr.getLong(0);
            Future<Streams.Digest> sent = threads.submit(() -> {
                Streams.Digest d = Streams.send(up, seed(id, false), bytes, chunk);
                up.shutdownOutput();
                return d;
            });
            Streams.Digest got = Streams.receive(up, chunk);
            sent.get();
            assertThat(got).as("client -> upstream stream of connection %d", id)
                    .isEqualTo(Streams.expected(seed(id, true), bytes, chunk));
            return got;
        }
    }
}
