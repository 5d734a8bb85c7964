package org.sockmap4j.netty;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.unix.Socket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.Sockets;
import org.sockmap4j.testing.FdLeakCheck;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the adapter relies on: closing a Netty {@code EpollSocketChannel} whose fd was duplicated
 * ({@link Sockets#dup}) sends nothing to the peer (no FIN, no reset), Netty stops watching the
 * socket, and the socket carries data both ways through the duplicate; the peer sees the FIN only
 * when the duplicate closes. Needs no privileges (no BPF): a unit test.
 */
@ExtendWith(FdLeakCheck.class)
@Timeout(30)
class DupCloseTest {
    private EventLoopGroup loop;
    private ServerSocketChannel server;

    @BeforeEach
    void setUp() throws IOException {
        loop = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
    }

    @AfterEach
    void tearDown() throws Exception {
        server.close();
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
    }

    private EpollSocketChannel connect() throws InterruptedException {
        return (EpollSocketChannel) new Bootstrap().group(loop).channel(EpollSocketChannel.class)
                .handler(new ChannelInboundHandlerAdapter())
                .connect(server.socket().getLocalSocketAddress()).sync().channel();
    }

    @Test
    void closingTheChannelAfterDupSendsNothingToThePeer() throws Exception {
        EpollSocketChannel ch = connect();
        try (SocketChannel peer = server.accept()) {
            Socket dup = new Socket(Sockets.dup(ch.fd().intValue()));
            try {
                ch.close().sync();
                assertThat(ch.isOpen()).isFalse();

                // the peer -> socket direction: Netty no longer reads; the bytes wait for the duplicate
                write(peer, "ping");
                assertThat(readFrom(dup, 4)).isEqualTo("ping");
                // the socket -> peer direction: a write after a FIN would fail (EPIPE), and would
                // reach the peer after its end of stream
                ByteBuffer pong = ByteBuffer.allocateDirect(4).put("pong".getBytes(StandardCharsets.US_ASCII)).flip();
                assertThat(dup.write(pong, 0, 4)).isEqualTo(4);
                assertThat(read(peer, 4)).isEqualTo("pong");
                peer.configureBlocking(false);
                assertThat(peer.read(ByteBuffer.allocate(1))).as("no FIN, nothing else queued").isZero();
            } finally {
                dup.close();
            }
            peer.configureBlocking(true);
            assertThat(peer.read(ByteBuffer.allocate(1))).as("the FIN, once the duplicate closed").isEqualTo(-1);
        }
    }

    /** The control: without a duplicate, the same close does reach the peer, as a FIN. */
    @Test
    void closingTheChannelWithoutDupSendsAFin() throws Exception {
        EpollSocketChannel ch = connect();
        try (SocketChannel peer = server.accept()) {
            ch.close().sync();
            assertThat(peer.read(ByteBuffer.allocate(1))).isEqualTo(-1);
        }
    }

    private static void write(SocketChannel ch, String s) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(s.getBytes(StandardCharsets.US_ASCII));
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private static String read(SocketChannel ch, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new AssertionError("end of stream after " + b.position() + " bytes");
            }
        }
        return new String(b.array(), StandardCharsets.US_ASCII);
    }

    /** Reads {@code n} bytes from a non-blocking socket, polling for up to 5 s. */
    private static String readFrom(Socket s, int n) throws IOException, InterruptedException {
        ByteBuffer b = ByteBuffer.allocateDirect(n);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (b.position() < n) {
            int r = s.read(b, b.position(), n);
            if (r < 0) {
                throw new AssertionError("end of stream after " + b.position() + " bytes");
            }
            b.position(b.position() + r);
            if (r == 0) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("no data within 5 s (" + b.position() + " of " + n + " bytes)");
                }
                Thread.sleep(10);
            }
        }
        byte[] out = new byte[n];
        b.flip().get(out);
        return new String(out, StandardCharsets.US_ASCII);
    }
}
