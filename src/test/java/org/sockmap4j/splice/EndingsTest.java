package org.sockmap4j.splice;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.SplicedPair;
import org.sockmap4j.SplicePolicy;
import org.sockmap4j.Splicer;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * How spliced pairs end: half-close each way (the other direction keeps flowing), reset each way
 * (the other end sees a reset), an upstream that refuses the connection, a client that vanishes
 * mid-transfer. Each ends with no map entry and no fd left (FdLeakCheck).
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class EndingsTest {
    static final Duration WAIT = Duration.ofSeconds(10);

    /** The default policy: these short exchanges are relayed to their end (see EndingsAlwaysSpliceTest). */
    SplicePolicy policy() {
        return SplicePolicy.auto();
    }

    /** client, proxy (splicing), upstream: the three parties of one test. */
    record Setup(Splicer splicer, ServerSocketChannel server, SpliceProxy proxy, SocketChannel client,
            SocketChannel upstream, SplicedPair pair) implements AutoCloseable {
        static Setup open(SplicePolicy policy) throws Exception {
            Splicer splicer = Splicer.builder().policy(policy).create();
            ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
            SpliceProxy proxy = SpliceProxy.start(splicer, server.getLocalAddress(), SpliceProxy.PLAIN);
            SocketChannel client = SocketChannel.open(proxy.address());
            SocketChannel upstream = server.accept();
            return new Setup(splicer, server, proxy, client, upstream, proxy.nextPair(WAIT));
        }

        SplicedPair.Result result() throws Exception {
            return pair.done().get(WAIT.toSeconds(), TimeUnit.SECONDS);
        }

        @Override
        public void close() throws Exception {
            SpliceProxy.closeQuietly(client);
            SpliceProxy.closeQuietly(upstream);
            proxy.close();
            SpliceProxy.closeQuietly(server);
            Splicer.Stats before = splicer.stats();
            SplicerMaps.Entries left = SplicerMaps.of(splicer);
            splicer.close();
            assertThat(before.pairsOpen()).as("pairs open at the end").isZero();
            assertThat(left).as("map entries at the end").isEqualTo(SplicerMaps.Entries.NONE);
        }
    }

    static void write(SocketChannel ch, String s) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(s.getBytes());
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    static String read(SocketChannel ch, int n) throws Exception {
        return new String(SplicerBasicsTest.read(ch, n));
    }

    static void resetOnClose(SocketChannel ch) throws IOException {
        ch.setOption(StandardSocketOptions.SO_LINGER, 0);
        ch.close();
    }

    @Test
    void clientHalfCloseReachesUpstreamAndRepliesStillFlow() throws Exception {
        try (Setup s = Setup.open(policy())) {
            write(s.client(), "request");
            s.client().shutdownOutput();
            assertThat(read(s.upstream(), 7)).isEqualTo("request");
            assertThat(s.upstream().read(ByteBuffer.allocate(1))).isEqualTo(-1);
            assertThat(s.pair().done()).isNotDone();
            write(s.upstream(), "response after the client's FIN");
            assertThat(read(s.client(), 31)).isEqualTo("response after the client's FIN");
            s.upstream().shutdownOutput();
            assertThat(s.client().read(ByteBuffer.allocate(1))).isEqualTo(-1);
            assertThat(s.result()).isEqualTo(new SplicedPair.Result(SplicedPair.End.COMPLETED, 7, 31));
        }
    }

    @Test
    void upstreamHalfCloseReachesClientAndRequestsStillFlow() throws Exception {
        try (Setup s = Setup.open(policy())) {
            write(s.upstream(), "banner");
            s.upstream().shutdownOutput();
            assertThat(read(s.client(), 6)).isEqualTo("banner");
            assertThat(s.client().read(ByteBuffer.allocate(1))).isEqualTo(-1);
            write(s.client(), "still talking");
            assertThat(read(s.upstream(), 13)).isEqualTo("still talking");
            s.client().shutdownOutput();
            assertThat(s.upstream().read(ByteBuffer.allocate(1))).isEqualTo(-1);
            assertThat(s.result()).isEqualTo(new SplicedPair.Result(SplicedPair.End.COMPLETED, 13, 6));
        }
    }

    @Test
    void aClientThatClosedItsSideBeforeTheSpliceIsRelayed() throws Exception {
        java.util.concurrent.CountDownLatch finSent = new java.util.concurrent.CountDownLatch(1);
        SpliceProxy.HandOff afterFin = (splicer, client, upstream) -> {
            SocketChannel up = upstream.connect();
            assertThat(finSent.await(10, TimeUnit.SECONDS)).isTrue();
            Thread.sleep(50); // the FIN has arrived: the client socket is in CLOSE_WAIT, no map takes it
            return splicer.splice(client, up);
        };
        try (Splicer splicer = Splicer.builder().policy(policy()).create();
             ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SpliceProxy proxy = SpliceProxy.start(splicer, server.getLocalAddress(), afterFin);
             SocketChannel client = SocketChannel.open(proxy.address());
             SocketChannel upstream = server.accept()) {
            write(client, "request");
            client.shutdownOutput();
            finSent.countDown();
            SplicedPair pair = proxy.nextPair(WAIT);
            assertThat(read(upstream, 7)).isEqualTo("request");
            assertThat(upstream.read(ByteBuffer.allocate(1))).isEqualTo(-1);
            write(upstream, "response");
            upstream.shutdownOutput();
            assertThat(read(client, 8)).isEqualTo("response");
            assertThat(client.read(ByteBuffer.allocate(1))).isEqualTo(-1);
            assertThat(pair.done().get(WAIT.toSeconds(), TimeUnit.SECONDS))
                    .isEqualTo(new SplicedPair.Result(SplicedPair.End.COMPLETED, 7, 8));
            assertThat(SplicerMaps.of(splicer)).isEqualTo(SplicerMaps.Entries.NONE);
        }
    }

    @Test
    void closingTheSplicerEndsEveryPair() throws Exception {
        Splicer splicer = Splicer.builder().policy(policy()).create();
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SpliceProxy proxy = SpliceProxy.start(splicer, server.getLocalAddress(), SpliceProxy.PLAIN)) {
            java.util.List<SocketChannel> clients = new java.util.ArrayList<>();
            java.util.List<SocketChannel> upstreams = new java.util.ArrayList<>();
            java.util.List<SplicedPair> pairs = new java.util.ArrayList<>();
            try {
                for (int i = 0; i < 8; i++) {
                    clients.add(SocketChannel.open(proxy.address()));
                    upstreams.add(server.accept());
                    pairs.add(proxy.nextPair(WAIT));
                }
                write(clients.get(3), "live");
                assertThat(read(upstreams.get(3), 4)).isEqualTo("live");
                assertThat(splicer.stats().pairsOpen()).isEqualTo(8);
                splicer.close();
                for (SplicedPair p : pairs) {
                    assertThat(p.done().get(WAIT.toSeconds(), TimeUnit.SECONDS).end()).isEqualTo(SplicedPair.End.CLOSED);
                }
                // the proxy's sockets are closed: both ends see the connection end
                for (SocketChannel c : clients) {
                    assertThat(endOf(c)).isTrue();
                }
                for (SocketChannel u : upstreams) {
                    assertThat(endOf(u)).isTrue();
                }
                assertThat(splicer.stats().pairsOpen()).isZero();
                assertThat(splicer.stats().pairsClosed()).isEqualTo(8);
            } finally {
                clients.forEach(SpliceProxy::closeQuietly);
                upstreams.forEach(SpliceProxy::closeQuietly);
            }
        } finally {
            splicer.close();
        }
    }

    /** True once the peer has closed: end of stream or a reset. */
    static boolean endOf(SocketChannel ch) throws IOException {
        try {
            return ch.read(ByteBuffer.allocate(1)) == -1;
        } catch (SocketException reset) {
            return true;
        }
    }

    @Test
    void clientResetResetsUpstream() throws Exception {
        try (Setup s = Setup.open(policy())) {
            write(s.client(), "x");
            assertThat(read(s.upstream(), 1)).isEqualTo("x");
            resetOnClose(s.client());
            assertThatThrownBy(() -> s.upstream().read(ByteBuffer.allocate(1)))
                    .isInstanceOf(SocketException.class).hasMessageContaining("reset");
            assertThat(s.result().end()).isEqualTo(SplicedPair.End.RESET);
        }
    }

    @Test
    void upstreamResetResetsClient() throws Exception {
        try (Setup s = Setup.open(policy())) {
            write(s.upstream(), "y");
            assertThat(read(s.client(), 1)).isEqualTo("y");
            resetOnClose(s.upstream());
            assertThatThrownBy(() -> s.client().read(ByteBuffer.allocate(1)))
                    .isInstanceOf(SocketException.class).hasMessageContaining("reset");
            assertThat(s.result().end()).isEqualTo(SplicedPair.End.RESET);
        }
    }

    @Test
    void resetAfterHalfCloseStillResetsTheOtherSide() throws Exception {
        try (Setup s = Setup.open(policy())) {
            s.client().shutdownOutput(); // the client's side is now watched for errors only
            assertThat(s.upstream().read(ByteBuffer.allocate(1))).isEqualTo(-1);
            resetOnClose(s.client());
            // the upstream, still able to send, learns of the reset
            assertThatThrownBy(() -> {
                for (int i = 0; i < 100; i++) {
                    write(s.upstream(), "z".repeat(1000));
                    Thread.sleep(20);
                }
            }).isInstanceOf(IOException.class);
            assertThat(s.result().end()).isEqualTo(SplicedPair.End.RESET);
        }
    }

    @Test
    void upstreamRefusingTheConnectionClosesTheClientAndSplicesNothing() throws Exception {
        int closedPort;
        try (ServerSocketChannel gone = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            closedPort = ((InetSocketAddress) gone.getLocalAddress()).getPort();
        }
        try (Splicer splicer = Splicer.builder().policy(policy()).create();
             SpliceProxy proxy = SpliceProxy.start(splicer, new InetSocketAddress("127.0.0.1", closedPort),
                     SpliceProxy.PLAIN);
             SocketChannel client = SocketChannel.open(proxy.address())) {
            // the proxy's connect fails: it closes the client, which sees end of stream or a reset
            ByteBuffer one = ByteBuffer.allocate(1);
            int r;
            try {
                r = client.read(one);
            } catch (SocketException reset) {
                r = -1;
            }
            assertThat(r).isEqualTo(-1);
            assertThat(proxy.errors()).singleElement().isInstanceOf(java.net.ConnectException.class);
            assertThat(splicer.stats()).isEqualTo(new Splicer.Stats(0, 0, 0, 0, 0));
            assertThat(SplicerMaps.of(splicer)).isEqualTo(SplicerMaps.Entries.NONE);
        }
    }

    @Test
    void clientVanishingMidTransferEndsThePair() throws Exception {
        try (Setup s = Setup.open(policy()); ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            // the upstream streams a lot; the client reads a little and disappears
            Future<Long> streaming = threads.submit(() -> {
                long sent = 0;
                ByteBuffer b = ByteBuffer.allocate(64 * 1024);
                try {
                    for (int i = 0; i < 4096; i++) { // at most 256 MiB
                        b.clear();
                        while (b.hasRemaining()) {
                            sent += s.upstream().write(b);
                        }
                    }
                } catch (IOException expected) {
                    return sent;
                }
                return -1L;
            });
            read(s.client(), 1 << 20);
            resetOnClose(s.client()); // unread data queued: close sends RST, as when a process dies
            assertThat(s.result().end()).isEqualTo(SplicedPair.End.RESET);
            assertThat(streaming.get(30, TimeUnit.SECONDS)).as("the upstream's writes fail").isPositive();
        }
    }
}
