package org.sockmap4j.splice;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sockmap4j.SplicePolicy;
import org.sockmap4j.SplicedPair;
import org.sockmap4j.Splicer;
import org.sockmap4j.UnsupportedSocketException;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * An upstream handed over while its non-blocking connect is still in progress (TCP SYN_SENT):
 * the watcher finishes the connect. Connected, bytes the client sent before it are delivered
 * first and the pair runs as usual under either policy; never connected (the listener's accept
 * queue is full, so its SYNs are dropped), the pair ends RESET after the connect timeout and the
 * client is reset; refused before {@code splice()} looked, the call throws and the caller keeps
 * both channels.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class ConnectingUpstreamTest {

    @ParameterizedTest
    @ValueSource(strings = {"auto", "always"})
    void anUpstreamStillConnectingCarriesBothWaysOnceConnected(String policyName) throws Exception {
        SplicePolicy policy = policyName.equals("auto") ? SplicePolicy.auto() : SplicePolicy.always();
        byte[] early = "sent before the upstream connected".getBytes(StandardCharsets.US_ASCII);
        byte[] answer = "the upstream's answer".getBytes(StandardCharsets.US_ASCII);
        try (Splicer splicer = Splicer.builder().policy(policy).create();
             ServerSocketChannel proxy = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel client = SocketChannel.open(proxy.getLocalAddress());
             // the Splicer owns and closes both once spliced (closing a channel again does nothing)
             SocketChannel accepted = proxy.accept();
             SocketChannel up = SocketChannel.open()) {
            client.write(ByteBuffer.wrap(early));
            up.configureBlocking(false);
            assertThat(up.connect(server.getLocalAddress())).as("a loopback connect is still in progress here").isFalse();
            SplicedPair pair = splicer.splice(accepted, up);
            try (SocketChannel u = server.accept()) {
                assertThat(SplicerBasicsTest.read(u, early.length)).isEqualTo(early);
                u.write(ByteBuffer.wrap(answer));
                assertThat(SplicerBasicsTest.read(client, answer.length)).isEqualTo(answer);
                client.shutdownOutput();
                assertThat(u.read(ByteBuffer.allocate(8))).as("FIN at the upstream").isEqualTo(-1);
                u.shutdownOutput();
                assertThat(client.read(ByteBuffer.allocate(8))).as("FIN at the client").isEqualTo(-1);
            }
            SplicedPair.Result r = pair.done().get(10, TimeUnit.SECONDS);
            assertThat(r).isEqualTo(new SplicedPair.Result(SplicedPair.End.COMPLETED, early.length, answer.length));
            assertThat(splicer.stats().pairsSpliced()).isEqualTo(policy.immediate() ? 1 : 0);
            assertThat(SplicerMaps.of(splicer)).isEqualTo(SplicerMaps.Entries.NONE);
        }
    }

    @Test
    void anUpstreamThatNeverConnectsEndsThePairAfterTheTimeoutAndResetsTheClient() throws Exception {
        List<SocketChannel> queued = new ArrayList<>();
        try (Splicer splicer = Splicer.builder().connectTimeout(Duration.ofMillis(300)).create();
             ServerSocketChannel proxy = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             ServerSocketChannel full = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0), 1);
             SocketChannel client = SocketChannel.open(proxy.getLocalAddress());
             SocketChannel accepted = proxy.accept();
             SocketChannel up = SocketChannel.open()) {
            // fill the accept queue (backlog 1 holds 2): further SYNs are dropped, not refused
            for (int i = 0; i < 2; i++) {
                queued.add(SocketChannel.open(full.getLocalAddress()));
            }
            up.configureBlocking(false);
            assertThat(up.connect(full.getLocalAddress())).isFalse();
            long t0 = System.nanoTime();
            SplicedPair pair = splicer.splice(accepted, up);
            SplicedPair.Result r = pair.done().get(10, TimeUnit.SECONDS);
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertThat(r.end()).isEqualTo(SplicedPair.End.RESET);
            assertThat(ms).as("ended by the 300 ms connect timeout").isBetween(250L, 5_000L);
            assertThatThrownBy(() -> client.read(ByteBuffer.allocate(8))).isInstanceOf(IOException.class)
                    .hasMessageContaining("reset");
            assertThat(splicer.stats().pairsOpen()).isZero();
        } finally {
            for (SocketChannel c : queued) {
                c.close();
            }
        }
    }

    @Test
    void anUpstreamRefusedBeforeSpliceLookedIsRefusedAndBothChannelsStayTheCallers() throws Exception {
        InetSocketAddress nobody;
        try (ServerSocketChannel gone = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            nobody = (InetSocketAddress) gone.getLocalAddress();
        }
        try (Splicer splicer = Splicer.create();
             ServerSocketChannel proxy = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel client = SocketChannel.open(proxy.getLocalAddress());
             SocketChannel accepted = proxy.accept();
             SocketChannel up = SocketChannel.open()) {
            up.configureBlocking(false);
            up.connect(nobody); // loopback: the RST is processed before connect() returns
            assertThatThrownBy(() -> splicer.splice(accepted, up)).isInstanceOf(UnsupportedSocketException.class)
                    .hasMessageContaining("CLOSE");
            assertThat(accepted.isOpen()).isTrue();
            assertThat(up.isOpen()).isTrue();
            assertThat(splicer.stats().pairsOpen()).isZero();
        }
    }

    @Test
    void aClientStillConnectingIsRefused() throws Exception {
        List<SocketChannel> queued = new ArrayList<>();
        try (Splicer splicer = Splicer.create();
             ServerSocketChannel full = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0), 1);
             ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel connecting = SocketChannel.open();
             SocketChannel up = SocketChannel.open(server.getLocalAddress())) {
            for (int i = 0; i < 2; i++) {
                queued.add(SocketChannel.open(full.getLocalAddress()));
            }
            connecting.configureBlocking(false);
            assertThat(connecting.connect(full.getLocalAddress())).isFalse();
            assertThatThrownBy(() -> splicer.splice(connecting, up)).isInstanceOf(UnsupportedSocketException.class)
                    .hasMessageContaining("SYN_SENT");
            assertThat(connecting.isOpen()).isTrue();
            assertThat(up.isOpen()).isTrue();
        } finally {
            for (SocketChannel c : queued) {
                c.close();
            }
        }
    }
}
