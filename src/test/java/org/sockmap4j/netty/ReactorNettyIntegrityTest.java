package org.sockmap4j.netty;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.SplicedPair;
import org.sockmap4j.Splicer;
import org.sockmap4j.netty.example.ReactorSpliceProxyExample;
import org.sockmap4j.splice.SplicerMaps;
import org.sockmap4j.splice.StreamPeers;
import org.sockmap4j.splice.Streams;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Reactor Netty example proxy passes {@link NettyIntegrityTest}'s integrity test: 64
 * concurrent connections, 8 MiB each way on each, both directions at once, the 8-byte connection
 * id read through Reactor as the header. Every stream's SHA-256 at the receiver equals the
 * sender's; for every pair the bytes the kernel counted plus those the proxy read and wrote itself
 * (Reactor reads ahead of the header) are exactly what was sent; afterwards the Splicer's maps are
 * empty and the process has the fds it started with. A second test pauses one connection mid-way
 * to see its sockets in the Splicer's maps while the kernel carries its bytes.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(240)
class ReactorNettyIntegrityTest {
    static final int CONNECTIONS = NettyIntegrityTest.CONNECTIONS;
    static final long BYTES_EACH_WAY = NettyIntegrityTest.BYTES_EACH_WAY;
    static final int CHUNK = NettyIntegrityTest.CHUNK;
    static final int HEADER = StreamPeers.ID_BYTES;

    /** A pair and what the proxy read and wrote itself, each way. */
    record Spliced(SplicedPair pair, long readToUpstream, long readToClient) {}

    /** Collects what the example proxy reports. */
    static final class Collected implements ReactorSpliceProxyExample.Listener {
        final BlockingQueue<Spliced> pairs = new LinkedBlockingQueue<>();
        final List<Throwable> errors = new CopyOnWriteArrayList<>();

        @Override
        public void spliced(SplicedPair pair, long readToUpstream, long readToClient) {
            pairs.add(new Spliced(pair, readToUpstream, readToClient));
        }

        @Override
        public void failed(Throwable cause) {
            errors.add(cause);
        }

        Spliced next() throws InterruptedException {
            Spliced p = pairs.poll(30, TimeUnit.SECONDS);
            if (p == null) {
                AssertionError e = new AssertionError("no spliced pair within 30 s; errors: " + errors);
                errors.forEach(e::addSuppressed);
                throw e;
            }
            return p;
        }
    }

    @Test
    void sixtyFourConnectionsCarryOneGibibyteIntactThroughTheReactorProxy() throws Exception {
        Collected proxied = new Collected();
        try (Splicer splicer = Splicer.create();
             ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0), 256);
             ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Streams.Digest>> atUpstream = new ArrayList<>();
            Future<?> upstreams = StreamPeers.acceptUpstreams(server, CONNECTIONS, BYTES_EACH_WAY, CHUNK, threads,
                    atUpstream);
            List<Future<Streams.Digest>> clients = new ArrayList<>();
            List<Spliced> pairs = new ArrayList<>();
            try (ReactorSpliceProxyExample proxy = ReactorSpliceProxyExample.start(NettySplicer.of(splicer),
                    new InetSocketAddress("127.0.0.1", 0), server.getLocalAddress(), HEADER, proxied)) {
                for (int id = 0; id < CONNECTIONS; id++) {
                    int connection = id;
                    clients.add(threads.submit(() -> StreamPeers.client(SocketChannel.open(proxy.address()),
                            connection, BYTES_EACH_WAY, CHUNK, threads)));
                }
                for (int i = 0; i < CONNECTIONS; i++) {
                    pairs.add(proxied.next());
                }
                upstreams.get(30, TimeUnit.SECONDS);
                for (int id = 0; id < CONNECTIONS; id++) {
                    assertThat(clients.get(id).get(180, TimeUnit.SECONDS))
                            .as("upstream -> client stream of connection %d", id)
                            .isEqualTo(Streams.expected(StreamPeers.seed(id, false), BYTES_EACH_WAY, CHUNK));
                }
                List<Streams.Digest> ups = new ArrayList<>();
                synchronized (atUpstream) {
                    for (Future<Streams.Digest> f : atUpstream) {
                        ups.add(f.get(180, TimeUnit.SECONDS));
                    }
                }
                // the upstream end checks the stream it got against the one named by the id
                assertThat(ups).hasSize(CONNECTIONS).allSatisfy(d -> assertThat(d.bytes()).isEqualTo(BYTES_EACH_WAY));
                long kernelToUpstream = 0;
                long kernelToClient = 0;
                for (Spliced s : pairs) {
                    SplicedPair.Result r = s.pair().done().get(60, TimeUnit.SECONDS);
                    assertThat(r.end()).as("%s", s).isEqualTo(SplicedPair.End.COMPLETED);
                    assertThat(s.readToUpstream()).as("%s: the header, at least", s).isGreaterThanOrEqualTo(HEADER);
                    assertThat(r.clientToUpstream() + s.readToUpstream()).as("%s", s).isEqualTo(HEADER + BYTES_EACH_WAY);
                    assertThat(r.upstreamToClient() + s.readToClient()).as("%s", s).isEqualTo(BYTES_EACH_WAY);
                    kernelToUpstream += r.clientToUpstream();
                    kernelToClient += r.upstreamToClient();
                }
                assertThat(proxied.errors).isEmpty();
                assertThat(splicer.stats().clientToUpstream()).isEqualTo(kernelToUpstream);
                assertThat(splicer.stats().upstreamToClient()).isEqualTo(kernelToClient);
                // Reactor's read-ahead is bounded (its queue); the kernel carried nearly everything
                assertThat(kernelToUpstream).isGreaterThan(CONNECTIONS * (BYTES_EACH_WAY - (4L << 20)));
            }
            assertThat(splicer.stats().pairsOpen()).isZero();
            assertThat(splicer.stats().pairsClosed()).isEqualTo(CONNECTIONS);
            assertThat(SplicerMaps.of(splicer)).isEqualTo(SplicerMaps.Entries.NONE);
        }
    }

    /**
     * One connection, paused once spliced: the upstream speaks first, the client sends its id and
     * more at once (Reactor reads ahead); then, with both sockets idle, the Splicer's maps hold this
     * one pair (two sockets in socks and targets, two peers), and a further MiB each way is counted
     * by the kernel, byte for byte.
     */
    @Test
    void aPausedConnectionIsInTheSpliceMapsWhileTheKernelCarriesIt() throws Exception {
        Collected proxied = new Collected();
        byte[] banner = bytes(1, 1000);
        byte[] first = bytes(2, 100_000);
        byte[] toUpstream = bytes(3, 1 << 20);
        byte[] toClient = bytes(4, 1 << 20);
        try (Splicer splicer = Splicer.create();
             ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             ReactorSpliceProxyExample proxy = ReactorSpliceProxyExample.start(NettySplicer.of(splicer),
                     new InetSocketAddress("127.0.0.1", 0), server.getLocalAddress(), HEADER, proxied);
             SocketChannel client = SocketChannel.open(proxy.address())) {
            writeAll(client, ByteBuffer.allocate(HEADER).putLong(0, 42));
            writeAll(client, ByteBuffer.wrap(first));
            try (SocketChannel up = server.accept()) {
                writeAll(up, ByteBuffer.wrap(banner));
                assertThat(readExactly(up, HEADER).getLong(0)).isEqualTo(42);
                assertThat(readExactly(up, first.length).array()).isEqualTo(first);
                Spliced s = proxied.next();
                assertThat(readExactly(client, banner.length).array()).isEqualTo(banner);

                assertThat(SplicerMaps.of(splicer)).as("the pair's sockets, while spliced")
                        .isEqualTo(new SplicerMaps.Entries(2, 2, 2));
                assertThat(splicer.stats().pairsOpen()).isEqualTo(1);
                long c2u = s.pair().clientToUpstream();
                long u2c = s.pair().upstreamToClient();
                assertThat(c2u + s.readToUpstream()).isEqualTo(HEADER + first.length);
                assertThat(u2c + s.readToClient()).isEqualTo(banner.length);

                writeAll(client, ByteBuffer.wrap(toUpstream));
                assertThat(readExactly(up, toUpstream.length).array()).isEqualTo(toUpstream);
                writeAll(up, ByteBuffer.wrap(toClient));
                assertThat(readExactly(client, toClient.length).array()).isEqualTo(toClient);
                assertThat(s.pair().clientToUpstream()).as("counted by the verdict program").isEqualTo(c2u + toUpstream.length);
                assertThat(s.pair().upstreamToClient()).isEqualTo(u2c + toClient.length);

                client.shutdownOutput();
                assertThat(up.read(ByteBuffer.allocate(1))).as("the client's FIN, propagated").isEqualTo(-1);
                up.shutdownOutput();
                assertThat(client.read(ByteBuffer.allocate(1))).isEqualTo(-1);
                SplicedPair.Result r = s.pair().done().get(30, TimeUnit.SECONDS);
                assertThat(r.end()).isEqualTo(SplicedPair.End.COMPLETED);
                assertThat(r.clientToUpstream()).isEqualTo(c2u + toUpstream.length);
                assertThat(r.upstreamToClient()).isEqualTo(u2c + toClient.length);
            }
            assertThat(proxied.errors).isEmpty();
            assertThat(SplicerMaps.of(splicer)).isEqualTo(SplicerMaps.Entries.NONE);
        }
    }

    private static byte[] bytes(long seed, int n) {
        byte[] b = new byte[n];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }

    private static void writeAll(SocketChannel ch, ByteBuffer b) throws java.io.IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private static ByteBuffer readExactly(SocketChannel ch, int n) throws java.io.IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new AssertionError("end of stream after " + b.position() + " of " + n + " bytes");
            }
        }
        return b.flip();
    }
}
