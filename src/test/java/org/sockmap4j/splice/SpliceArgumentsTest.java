package org.sockmap4j.splice;

import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.Errno;
import org.sockmap4j.Sockets;
import org.sockmap4j.SplicedPair;
import org.sockmap4j.Splicer;
import org.sockmap4j.UnsupportedSocketException;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What splice refuses, before touching any data: sockets that are not established TCP, the same
 * socket twice, a socket already in a live pair (which keeps working), a closed Splicer. The
 * refused sockets stay open and usable by the caller.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(30)
class SpliceArgumentsTest {

    /** A connected TCP pair on loopback: a and b, plus the listener. */
    record Tcp(ServerSocketChannel server, SocketChannel a, SocketChannel b) implements AutoCloseable {
        static Tcp open() throws Exception {
            ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
            SocketChannel a = SocketChannel.open(server.getLocalAddress());
            return new Tcp(server, a, server.accept());
        }

        @Override
        public void close() throws Exception {
            SpliceProxy.closeQuietly(a);
            SpliceProxy.closeQuietly(b);
            server.close();
        }
    }

    @Test
    void nonTcpSocketsAreRefusedAndKept() throws Exception {
        try (Splicer splicer = Splicer.create(); Tcp t = Tcp.open();
             DatagramChannel udp = DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            int udpFd = Sockets.fd(udp);
            assertThatThrownBy(() -> splicer.splice(Sockets.fd(t.a()), udpFd))
                    .isInstanceOfSatisfying(UnsupportedSocketException.class,
                            e -> assertThat(e.errno()).isEqualTo(Errno.EOPNOTSUPP))
                    .hasMessageContaining("TCP");
            assertThat(udp.isOpen()).isTrue();
            assertThat(t.a().isOpen()).isTrue();
        }
    }

    @Test
    void unixStreamSocketsAreRefused() throws Exception {
        Path dir = Files.createTempDirectory("splice-unix");
        Path sock = dir.resolve("s");
        try (Splicer splicer = Splicer.create();
             ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)
                     .bind(java.net.UnixDomainSocketAddress.of(sock));
             SocketChannel a = SocketChannel.open(java.net.UnixDomainSocketAddress.of(sock));
             SocketChannel b = server.accept()) {
            assertThatThrownBy(() -> splicer.splice(a, b)).isInstanceOf(UnsupportedSocketException.class)
                    .hasMessageContaining("TCP sockets (IPv4 or IPv6) only");
            assertThat(a.isOpen()).isTrue();
        } finally {
            Files.deleteIfExists(sock);
            Files.delete(dir);
        }
    }

    @Test
    void listeningAndUnconnectedSocketsAreRefused() throws Exception {
        try (Splicer splicer = Splicer.create(); Tcp t = Tcp.open(); Tcp u = Tcp.open();
             SocketChannel unconnected = SocketChannel.open()) {
            int listening = Sockets.fd(t.server());
            assertThatThrownBy(() -> splicer.splice(listening, Sockets.fd(u.a())))
                    .isInstanceOf(UnsupportedSocketException.class).hasMessageContaining("LISTEN");
            unconnected.bind(new InetSocketAddress("127.0.0.1", 0));
            assertThatThrownBy(() -> splicer.splice(t.a(), unconnected))
                    .isInstanceOf(UnsupportedSocketException.class).hasMessageContaining("CLOSE");
            assertThat(t.a().isOpen()).isTrue();
            assertThat(unconnected.isOpen()).isTrue();
            assertThat(splicer.stats().pairsOpen()).isZero();
        }
    }

    @Test
    void theSameSocketTwiceIsRefused() throws Exception {
        try (Splicer splicer = Splicer.create(); Tcp t = Tcp.open()) {
            assertThatThrownBy(() -> splicer.splice(t.a(), t.a())).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("same socket");
        }
    }

    @Test
    void anAlreadySplicedSocketIsRefusedAndItsPairKeepsWorking() throws Exception {
        try (Splicer splicer = Splicer.create(); Tcp c = Tcp.open(); Tcp u = Tcp.open(); Tcp other = Tcp.open()) {
            SplicedPair live = splicer.splice(c.b(), u.a());
            // pending bytes must not be written when the call is refused
            assertThatThrownBy(() -> splicer.splice(c.b(), null, other.a(), ByteBuffer.wrap("junk".getBytes())))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("already spliced");
            assertThatThrownBy(() -> splicer.splice(other.a(), u.a())).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("already spliced");
            // the live pair still carries data both ways
            c.a().write(ByteBuffer.wrap("ping".getBytes()));
            assertThat(new String(SplicerBasicsTest.read(u.b(), 4))).isEqualTo("ping");
            u.b().write(ByteBuffer.wrap("pong".getBytes()));
            assertThat(new String(SplicerBasicsTest.read(c.a(), 4))).isEqualTo("pong");
            // and nothing reached the other socket's peer
            other.b().configureBlocking(false);
            assertThat(other.b().read(ByteBuffer.allocate(8))).isZero();
            live.close();
            assertThat(live.done().get(5, TimeUnit.SECONDS).end()).isEqualTo(SplicedPair.End.CLOSED);
            assertThat(SplicerMaps.of(splicer)).isEqualTo(SplicerMaps.Entries.NONE);
        }
    }

    @Test
    void aClosedSplicerRefusesAndLeavesTheSocketsAlone() throws Exception {
        Splicer splicer = Splicer.create();
        splicer.close();
        splicer.close(); // idempotent
        try (Tcp c = Tcp.open(); Tcp u = Tcp.open()) {
            assertThatThrownBy(() -> splicer.splice(c.b(), u.a())).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("closed");
            assertThat(c.b().isOpen()).isTrue();
        }
    }
}
