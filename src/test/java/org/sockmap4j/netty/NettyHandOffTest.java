package org.sockmap4j.netty;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.SplittableRandom;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.SplicedPair;
import org.sockmap4j.Splicer;
import org.sockmap4j.netty.example.SpliceProxyExample;
import org.sockmap4j.splice.SplicerMaps;
import org.sockmap4j.splice.Streams;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Hand-offs through the Netty adapter with data in flight: the client streams without pause
 * while the pipeline reads its header, connects upstream and splices; the upstream speaks first
 * and streams too. Every byte arrives once and in order, each way, whether it was read by the
 * pipeline (the header), read by Netty after {@code splice} was called (held by the adapter),
 * written by the pipeline before the call and still queued in Netty, or queued in the kernel.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(120)
class NettyHandOffTest {
    static final long BYTES = 4L << 20;
    static final int CHUNK = 1000; // not a divisor of the segment size: the header read splits one
    static final int HEADER = 7;
    static final int RESPONSE = 6 << 20; // more than the socket takes (tcp_wmem max 4 MiB): part waits in Netty

    /** The example proxy: the pipeline reads exactly the header, connects, splices. */
    @RepeatedTest(10)
    void headerReadByThePipelineWhileTheClientStreams() throws Exception {
        BlockingQueue<SplicedPair> pairs = new LinkedBlockingQueue<>();
        BlockingQueue<Throwable> errors = new LinkedBlockingQueue<>();
        try (Splicer splicer = Splicer.create();
             ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SpliceProxyExample proxy = SpliceProxyExample.start(NettySplicer.of(splicer),
                     new InetSocketAddress("127.0.0.1", 0), server.getLocalAddress(), HEADER,
                     new SpliceProxyExample.Listener() {
                         @Override
                         public void spliced(SplicedPair pair) {
                             pairs.add(pair);
                         }

                         @Override
                         public void failed(Throwable cause) {
                             errors.add(cause);
                         }
                     })) {
            streamBothWays(proxy.address(), server, null);
            SplicedPair.Result r = nextPair(pairs, errors).done().get(30, TimeUnit.SECONDS);
            assertThat(r.end()).isEqualTo(SplicedPair.End.COMPLETED);
            assertThat(r.clientToUpstream()).isEqualTo(BYTES); // the header was the proxy's own write
            assertThat(r.upstreamToClient()).isEqualTo(BYTES);
            assertThat(errors).isEmpty();
            assertThat(SplicerMaps.of(splicer)).isEqualTo(SplicerMaps.Entries.NONE);
        }
    }

    /**
     * A read the pipeline asked for just before {@code splice} happens during the hand-off (the
     * upstream's event loop is kept busy meanwhile): the adapter holds those bytes and forwards
     * them ahead of what is still queued in the kernel.
     */
    @RepeatedTest(5)
    void bytesNettyReadsDuringTheHandOffAreForwardedInOrder() throws Exception {
        runWithHandler(null, (splicer, client, upstream, header) -> {
            client.read(); // Netty reads once more (a header-sized buffer), in a later turn of the client's loop
            upstream.eventLoop().execute(() -> sleep(300)); // the upstream's part of the stop waits behind this
            return splicer.splice(client, header, upstream, null);
        }, r -> assertThat(r.clientToUpstream()).as("bytes carried by the kernel; the rest were held")
                .isLessThan(BYTES));
    }

    /**
     * A response the pipeline wrote to the client just before {@code splice}, too large for the
     * socket to take (the client reads only once {@code splice} was called): the hand-off waits
     * until Netty has written all of it, so the client gets the response, then the upstream's
     * stream.
     */
    @RepeatedTest(5)
    void writesThePipelineQueuedReachThePeerBeforeSplicedData() throws Exception {
        CountDownLatch spliceCalled = new CountDownLatch(1);
        AtomicLong queuedInNetty = new AtomicLong();
        runWithHandler(spliceCalled, (splicer, client, upstream, header) -> {
            byte[] response = new byte[RESPONSE];
            new SplittableRandom(3).nextBytes(response);
            client.writeAndFlush(Unpooled.wrappedBuffer(response));
            queuedInNetty.set(client.unsafe().outboundBuffer().totalPendingWriteBytes());
            try {
                return splicer.splice(client, header, upstream, null);
            } finally {
                spliceCalled.countDown();
            }
        }, r -> {
            assertThat(queuedInNetty.get()).as("bytes of the response still in Netty at the call").isPositive();
            assertThat(r.clientToUpstream()).isEqualTo(BYTES);
        });
    }

    /** What a test's pipeline does once the header is read and the upstream connected. */
    @FunctionalInterface
    interface Splice {
        io.netty.util.concurrent.Future<SplicedPair> splice(NettySplicer splicer, EpollSocketChannel client,
                EpollSocketChannel upstream, ByteBuf header);
    }

    /** Checks on the pair's result. */
    @FunctionalInterface
    interface Check {
        void check(SplicedPair.Result r);
    }

    /**
     * A proxy whose pipeline reads the header, connects upstream on a second event loop group,
     * then runs {@code splice} in the client's loop; the client and the upstream stream both ways.
     * With {@code response}, the client first reads the {@link #RESPONSE} the pipeline wrote, once
     * {@code response} is counted down.
     */
    private static void runWithHandler(CountDownLatch response, Splice splice, Check check) throws Exception {
        EventLoopGroup clientLoops = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        EventLoopGroup upstreamLoops = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        BlockingQueue<SplicedPair> pairs = new LinkedBlockingQueue<>();
        BlockingQueue<Throwable> errors = new LinkedBlockingQueue<>();
        try (Splicer splicer = Splicer.create();
             ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            NettySplicer adapter = NettySplicer.of(splicer);
            java.net.SocketAddress upstreamAddress = server.getLocalAddress();
            Channel listener = new ServerBootstrap()
                    .group(clientLoops)
                    .channel(EpollServerSocketChannel.class)
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childOption(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(HEADER))
                    .childHandler(new ChannelInitializer<EpollSocketChannel>() {
                        @Override
                        protected void initChannel(EpollSocketChannel ch) {
                            ch.pipeline().addLast(new ReadHeaderThen(upstreamLoops, upstreamAddress,
                                    (client, upstream, header) -> splice.splice(adapter, client, upstream, header)
                                            .addListener(f -> {
                                                if (f.isSuccess()) {
                                                    pairs.add((SplicedPair) f.getNow());
                                                } else {
                                                    errors.add(f.cause());
                                                }
                                            }), errors));
                        }
                    })
                    .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            try {
                streamBothWays((InetSocketAddress) listener.localAddress(), server, response);
                SplicedPair.Result r = nextPair(pairs, errors).done().get(30, TimeUnit.SECONDS);
                assertThat(r.end()).isEqualTo(SplicedPair.End.COMPLETED);
                assertThat(r.upstreamToClient()).isEqualTo(BYTES);
                check.check(r);
                assertThat(errors).isEmpty();
                assertThat(SplicerMaps.of(splicer)).isEqualTo(SplicerMaps.Entries.NONE);
            } finally {
                listener.close().await(5, TimeUnit.SECONDS);
            }
        } finally {
            clientLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            upstreamLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            clientLoops.terminationFuture().await(10, TimeUnit.SECONDS);
            upstreamLoops.terminationFuture().await(10, TimeUnit.SECONDS);
        }
    }

    /** Reads the header, connects upstream (auto-read off), then calls {@code then} in the client's loop. */
    private static final class ReadHeaderThen extends ChannelInboundHandlerAdapter {
        interface Then {
            void run(EpollSocketChannel client, EpollSocketChannel upstream, ByteBuf header);
        }

        private final EventLoopGroup upstreamLoops;
        private final java.net.SocketAddress upstream;
        private final Then then;
        private final BlockingQueue<Throwable> errors;
        private ByteBuf header;

        ReadHeaderThen(EventLoopGroup upstreamLoops, java.net.SocketAddress upstream, Then then,
                BlockingQueue<Throwable> errors) {
            this.upstreamLoops = upstreamLoops;
            this.upstream = upstream;
            this.then = then;
            this.errors = errors;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            header = ctx.alloc().buffer(HEADER);
            ctx.read();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf in = (ByteBuf) msg;
            header.writeBytes(in);
            in.release();
            if (header.readableBytes() < HEADER) {
                ctx.read();
                return;
            }
            EpollSocketChannel client = (EpollSocketChannel) ctx.channel();
            new Bootstrap().group(upstreamLoops).channel(EpollSocketChannel.class)
                    .option(ChannelOption.AUTO_READ, false)
                    .handler(new ChannelInboundHandlerAdapter())
                    .connect(upstream).addListener((ChannelFuture f) -> {
                        if (!f.isSuccess()) {
                            errors.add(f.cause());
                            return;
                        }
                        ByteBuf h = header;
                        header = null;
                        client.eventLoop().execute(() -> then.run(client, (EpollSocketChannel) f.channel(), h));
                    });
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            errors.add(cause);
            ctx.close();
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
            if (header != null) {
                header.release();
                header = null;
            }
        }
    }

    /**
     * The client sends the header and its stream in one go; the upstream, once connected, sends
     * its stream at once (while the client is still sending), then checks the header and the
     * client's stream; the client checks the {@link #RESPONSE} the proxy wrote (if
     * {@code response} is given: once it is counted down), then the upstream's stream.
     */
    private static void streamBothWays(InetSocketAddress proxy, ServerSocketChannel server, CountDownLatch response)
            throws Exception {
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
             SocketChannel client = SocketChannel.open(proxy)) {
            Future<Streams.Digest> sent = threads.submit(() -> {
                ByteBuffer hdr = ByteBuffer.wrap("HEADER:".getBytes());
                while (hdr.hasRemaining()) {
                    client.write(hdr);
                }
                Streams.Digest d = Streams.send(client, 1, BYTES, CHUNK);
                client.shutdownOutput();
                return d;
            });
            try (SocketChannel up = server.accept()) {
                Future<Streams.Digest> reply = threads.submit(() -> {
                    Streams.Digest d = Streams.send(up, 2, BYTES, CHUNK);
                    up.shutdownOutput();
                    return d;
                });
                Future<String> atClient = threads.submit(() -> {
                    if (response != null) {
                        if (!response.await(10, TimeUnit.SECONDS)) {
                            return "the pipeline never called splice";
                        }
                        ByteBuffer got = ByteBuffer.allocate(RESPONSE);
                        while (got.hasRemaining()) {
                            if (client.read(got) < 0) {
                                return "end of stream within the proxy's response, at " + got.position();
                            }
                        }
                        byte[] want = new byte[RESPONSE];
                        new SplittableRandom(3).nextBytes(want);
                        if (!java.util.Arrays.equals(want, got.array())) {
                            return "the proxy's response differs at " + java.util.Arrays.mismatch(want, got.array());
                        }
                    }
                    return Streams.receiveAndCompare(client, 2, BYTES, CHUNK);
                });
                ByteBuffer hdr = ByteBuffer.allocate(HEADER);
                while (hdr.hasRemaining()) {
                    assertThat(up.read(hdr)).isNotNegative();
                }
                assertThat(new String(hdr.array())).isEqualTo("HEADER:");
                String atUpstream = Streams.receiveAndCompare(up, 1, BYTES, CHUNK);
                sent.get(30, TimeUnit.SECONDS);
                reply.get(30, TimeUnit.SECONDS);
                assertThat(atUpstream).as("client -> upstream").isNull();
                assertThat(atClient.get(30, TimeUnit.SECONDS)).as("upstream -> client").isNull();
            }
        }
    }

    private static SplicedPair nextPair(BlockingQueue<SplicedPair> pairs, BlockingQueue<Throwable> errors)
            throws InterruptedException {
        SplicedPair p = pairs.poll(10, TimeUnit.SECONDS);
        if (p == null) {
            AssertionError e = new AssertionError("no spliced pair within 10 s; errors: " + errors);
            errors.forEach(e::addSuppressed);
            throw e;
        }
        return p;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
