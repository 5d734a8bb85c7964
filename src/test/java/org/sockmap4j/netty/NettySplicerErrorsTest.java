package org.sockmap4j.netty;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.SplicedPair;
import org.sockmap4j.Splicer;
import org.sockmap4j.splice.SplicerMaps;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The adapter's contract at its edges: bad arguments are refused before anything is touched, a
 * hand-off the Splicer refuses resets both connections and leaks nothing (no fd, no buffer), and
 * a plain hand-off with pending bytes carries them first.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class NettySplicerErrorsTest {
    private EventLoopGroup loop;
    private ServerSocketChannel a;
    private ServerSocketChannel b;

    @BeforeEach
    void setUp() throws IOException {
        loop = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        a = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        b = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
    }

    @AfterEach
    void tearDown() throws Exception {
        a.close();
        b.close();
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
    }

    /** A channel that reads nothing by itself (whatever it read would go to a handler that drops it). */
    private EpollSocketChannel connect(ServerSocketChannel to) throws InterruptedException {
        return (EpollSocketChannel) new Bootstrap().group(loop).channel(EpollSocketChannel.class)
                .option(ChannelOption.AUTO_READ, false)
                .handler(new ChannelInboundHandlerAdapter())
                .connect(to.socket().getLocalSocketAddress()).sync().channel();
    }

    @Test
    void pendingBytesGoFirstThenTheKernelCarriesTheRest() throws Exception {
        try (Splicer splicer = Splicer.create()) {
            EpollSocketChannel client = connect(a);
            EpollSocketChannel upstream = connect(b);
            try (SocketChannel clientPeer = a.accept(); SocketChannel upstreamPeer = b.accept()) {
                write(clientPeer, "queued "); // waits in the kernel: the Splicer moves it
                SplicedPair pair = NettySplicer.of(splicer)
                        .splice(client, Unpooled.copiedBuffer("pending ".getBytes()), upstream,
                                Unpooled.copiedBuffer("hello ".getBytes()))
                        .get(10, TimeUnit.SECONDS);
                assertThat(client.isOpen()).isFalse();
                assertThat(upstream.isOpen()).isFalse();
                write(clientPeer, "spliced");
                clientPeer.shutdownOutput();
                assertThat(readAll(upstreamPeer)).isEqualTo("pending queued spliced");
                upstreamPeer.shutdownOutput();
                assertThat(readAll(clientPeer)).isEqualTo("hello ");
                SplicedPair.Result r = pair.done().get(10, TimeUnit.SECONDS);
                assertThat(r.end()).isEqualTo(SplicedPair.End.COMPLETED);
                assertThat(r.clientToUpstream()).isEqualTo("queued spliced".length());
                assertThat(SplicerMaps.of(splicer)).isEqualTo(SplicerMaps.Entries.NONE);
            }
        }
    }

    @Test
    void theSameChannelTwiceIsRefusedAtOnceAndItsBufferReleased() throws Exception {
        try (Splicer splicer = Splicer.create()) {
            EpollSocketChannel ch = connect(a);
            try (SocketChannel peer = a.accept()) {
                ByteBuf pending = Unpooled.buffer().writeLong(1);
                assertThatThrownBy(() -> NettySplicer.of(splicer).splice(ch, pending, ch, null))
                        .isInstanceOf(IllegalArgumentException.class);
                assertThat(pending.refCnt()).isZero();
                assertThat(ch.isActive()).as("untouched").isTrue();
                assertThat(ch.pipeline().get(HandOffHandler.NAME)).as("untouched").isNull();
            } finally {
                ch.close().sync();
            }
        }
    }

    @Test
    void anInactiveChannelFailsTheFutureAndTheOtherIsUntouched() throws Exception {
        try (Splicer splicer = Splicer.create()) {
            EpollSocketChannel client = connect(a);
            EpollSocketChannel upstream = connect(b);
            try (SocketChannel clientPeer = a.accept(); SocketChannel upstreamPeer = b.accept()) {
                client.close().sync();
                ByteBuf pending = Unpooled.buffer().writeLong(1);
                Future<SplicedPair> f = NettySplicer.of(splicer).splice(client, pending, upstream, null);
                assertThat(f.await(10, TimeUnit.SECONDS)).isTrue();
                assertThat(f.cause()).isInstanceOf(ClosedChannelException.class);
                assertThat(pending.refCnt()).isZero();
                assertThat(upstream.isActive()).isTrue();
                assertThat(upstream.pipeline().get(HandOffHandler.NAME)).isNull();
            } finally {
                upstream.close().sync();
            }
        }
    }

    @Test
    void aRefusedHandOffResetsBothConnectionsAndLeaksNothing() throws Exception {
        Splicer splicer = Splicer.create();
        splicer.close(); // refuses every pair (IllegalStateException), before touching any data
        EpollSocketChannel client = connect(a);
        EpollSocketChannel upstream = connect(b);
        try (SocketChannel clientPeer = a.accept(); SocketChannel upstreamPeer = b.accept()) {
            ByteBuf pending = Unpooled.buffer().writeLong(1);
            Future<SplicedPair> f = NettySplicer.of(splicer).splice(client, pending, upstream, null);
            assertThat(f.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(f.cause()).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
            assertThat(pending.refCnt()).isZero();
            assertThat(client.isOpen()).isFalse();
            assertThat(upstream.isOpen()).isFalse();
            for (SocketChannel peer : new SocketChannel[] {clientPeer, upstreamPeer}) {
                assertThatThrownBy(() -> peer.read(ByteBuffer.allocate(1)))
                        .isInstanceOf(IOException.class).hasMessageContaining("reset");
            }
        }
    }

    private static void write(SocketChannel ch, String s) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(s.getBytes());
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }

    private static String readAll(SocketChannel ch) throws IOException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        ByteBuffer buf = ByteBuffer.allocate(1024);
        int n;
        while ((n = ch.read(buf.clear())) >= 0) {
            out.write(buf.array(), 0, n);
        }
        return out.toString();
    }
}
