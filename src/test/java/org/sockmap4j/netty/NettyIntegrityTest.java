package org.sockmap4j.netty;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
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
import org.sockmap4j.netty.example.SpliceProxyExample;
import org.sockmap4j.splice.SplicerMaps;
import org.sockmap4j.splice.StreamPeers;
import org.sockmap4j.splice.Streams;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Netty example proxy passes the integrity test: 64 concurrent connections carry 1 GiB in
 * total, 8 MiB each way on each, both directions at once. The proxy's pipeline reads each
 * connection's 8-byte id (its header) and forwards it as pending bytes; then the kernel carries
 * everything. Every stream's SHA-256 at the receiver equals the sender's, every pair completes
 * with byte counts equal to what was sent (the header being the proxy's own write), and afterwards
 * the Splicer's maps are empty and the process has the fds it started with.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(240)
class NettyIntegrityTest {
    static final int CONNECTIONS = Integer.getInteger("sockmap4j.integrity.connections", 64);
    static final long BYTES_EACH_WAY = Long.getLong("sockmap4j.integrity.bytes", 8L << 20);
    static final int CHUNK = 64 * 1024;
    static final int HEADER = 8;

    /** Collects what the example proxy reports. */
    static final class Collected implements SpliceProxyExample.Listener {
        final BlockingQueue<SplicedPair> pairs = new LinkedBlockingQueue<>();
        final List<Throwable> errors = new CopyOnWriteArrayList<>();

        @Override
        public void spliced(SplicedPair pair) {
            pairs.add(pair);
        }

        @Override
        public void failed(Throwable cause) {
            errors.add(cause);
        }

        SplicedPair next() throws InterruptedException {
            SplicedPair p = pairs.poll(30, TimeUnit.SECONDS);
            if (p == null) {
                AssertionError e = new AssertionError("no spliced pair within 30 s; errors: " + errors);
                errors.forEach(e::addSuppressed);
                throw e;
            }
            return p;
        }
    }

    @Test
    void sixtyFourConnectionsCarryOneGibibyteIntactThroughTheNettyProxy() throws Exception {
        Collected proxied = new Collected();
        try (Splicer splicer = Splicer.create();
             ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0), 256);
             ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Streams.Digest>> atUpstream = new ArrayList<>();
            Future<?> upstreams = StreamPeers.acceptUpstreams(server, CONNECTIONS, BYTES_EACH_WAY, CHUNK, threads,
                    atUpstream);
            List<Future<Streams.Digest>> clients = new ArrayList<>();
            List<SplicedPair> pairs = new ArrayList<>();
            try (SpliceProxyExample proxy = SpliceProxyExample.start(NettySplicer.of(splicer),
                    new InetSocketAddress("127.0.0.1", 0), server.getLocalAddress(), HEADER, proxied)) {
                for (int id = 0; id < CONNECTIONS; id++) {
                    int connection = id;
                    clients.add(threads.submit(() -> StreamPeers.client(SocketChannel.open(proxy.address()), connection, BYTES_EACH_WAY, CHUNK, threads)));
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
                for (SplicedPair p : pairs) {
                    SplicedPair.Result r = p.done().get(60, TimeUnit.SECONDS);
                    assertThat(r.end()).as("%s", p).isEqualTo(SplicedPair.End.COMPLETED);
                    assertThat(r.clientToUpstream()).as("%s", p).isEqualTo(BYTES_EACH_WAY); // + the header, sent by the proxy
                    assertThat(r.upstreamToClient()).as("%s", p).isEqualTo(BYTES_EACH_WAY);
                }
                assertThat(proxied.errors).isEmpty();
            }
            assertThat(splicer.stats().pairsOpen()).isZero();
            assertThat(splicer.stats().pairsClosed()).isEqualTo(CONNECTIONS);
            assertThat(splicer.stats().clientToUpstream()).isEqualTo(CONNECTIONS * BYTES_EACH_WAY);
            assertThat(splicer.stats().upstreamToClient()).isEqualTo(CONNECTIONS * BYTES_EACH_WAY);
            assertThat(SplicerMaps.of(splicer)).isEqualTo(SplicerMaps.Entries.NONE);
        }
    }
}
