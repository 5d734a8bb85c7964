package org.sockmap4j.netty.example;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;

import org.sockmap4j.SplicedPair;
import org.sockmap4j.Splicer;
import org.sockmap4j.netty.NettySplicer;

/**
 * An example TCP proxy on Netty's native epoll transport that hands every connection to the
 * kernel: per accepted client it reads a fixed-length header (optional), connects to the upstream
 * with a {@code Bootstrap} on the client's event loop, and splices the two channels with a
 * {@link NettySplicer}, forwarding the header as pending bytes. From then on the kernel moves the
 * data (SK_SKB verdict, Linux 5.13+); the JVM sees none of it.
 *
 * <p>Run it as root (or with CAP_BPF and CAP_NET_ADMIN), on the test class path:
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp ... org.sockmap4j.netty.example.SpliceProxyExample \
 *     127.0.0.1:8000 127.0.0.1:9000 [HEADER_BYTES]
 * </pre>
 *
 * <p>A client that half-closes before the upstream is connected loses its connection: Netty
 * closes a channel on end of input unless {@code ALLOW_HALF_CLOSURE} is set, and this example
 * does not rely on Netty's half-closure (in 4.2.18, a write that must wait after the input was
 * shut down fails). Once the splice has begun, a half-close is the Splicer's to propagate.
 *
 * <p>This example lives with the tests, not in the library jar: it is not API, the jar ships the
 * {@code sockmap proxy} command as its proxy, and here it is compiled and exercised by the
 * integrity test ({@code NettyIntegrityTest}) so that it cannot rot.
 */
public final class SpliceProxyExample implements AutoCloseable {

    /** What became of each accepted client; called in the client's event loop. */
    public interface Listener {
        /** The client and its upstream were spliced. */
        void spliced(SplicedPair pair);

        /** The client could not be spliced (the upstream refused, a channel closed, the splice failed). */
        void failed(Throwable cause);
    }

    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final Channel server;

    private SpliceProxyExample(EventLoopGroup boss, EventLoopGroup workers, Channel server) {
        this.boss = boss;
        this.workers = workers;
        this.server = server;
    }

    /**
     * Starts a proxy listening on {@code listen} in front of {@code upstream}; each client's first
     * {@code headerLength} bytes (0: none) are read by the proxy before the splice.
     */
    public static SpliceProxyExample start(NettySplicer splicer, InetSocketAddress listen, SocketAddress upstream,
            int headerLength, Listener listener) throws InterruptedException {
        Objects.requireNonNull(splicer);
        Objects.requireNonNull(upstream);
        Objects.requireNonNull(listener);
        if (headerLength < 0) {
            throw new IllegalArgumentException("headerLength must be >= 0, got " + headerLength);
        }
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        EventLoopGroup workers = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
        try {
            ServerBootstrap b = new ServerBootstrap()
                    .group(boss, workers)
                    .channel(EpollServerSocketChannel.class)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .childOption(ChannelOption.AUTO_READ, false) // the handler reads only the header
                    .childHandler(new io.netty.channel.ChannelInitializer<EpollSocketChannel>() {
                        @Override
                        protected void initChannel(EpollSocketChannel ch) {
                            if (headerLength > 0) { // read exactly the header, not into the stream
                                ch.config().setRecvByteBufAllocator(new FixedRecvByteBufAllocator(headerLength));
                            }
                            ch.pipeline().addLast(new HeaderThenSplice(splicer, upstream, headerLength, listener));
                        }
                    });
            Channel server = b.bind(listen).sync().channel();
            return new SpliceProxyExample(boss, workers, server);
        } catch (InterruptedException | RuntimeException e) {
            shutDown(boss, workers);
            throw e;
        }
    }

    /** Where clients connect. */
    public InetSocketAddress address() {
        return (InetSocketAddress) server.localAddress();
    }

    /**
     * Stops accepting and shuts down the event loops; spliced pairs belong to the Splicer and
     * carry on until it is closed.
     */
    @Override
    public void close() throws InterruptedException {
        server.close().await(5, TimeUnit.SECONDS);
        shutDown(boss, workers);
    }

    private static void shutDown(EventLoopGroup boss, EventLoopGroup workers) throws InterruptedException {
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        boss.terminationFuture().await(10, TimeUnit.SECONDS);
        workers.terminationFuture().await(10, TimeUnit.SECONDS);
    }

    /** {@code SpliceProxyExample LISTEN_HOST:PORT UPSTREAM_HOST:PORT [HEADER_BYTES]}; stops on Ctrl-C. */
    public static void main(String[] args) throws Exception {
        if (args.length < 2 || args.length > 3) {
            System.err.println("usage: SpliceProxyExample LISTEN_HOST:PORT UPSTREAM_HOST:PORT [HEADER_BYTES]");
            System.exit(2);
        }
        InetSocketAddress listen = hostPort(args[0]);
        InetSocketAddress upstream = hostPort(args[1]);
        int header = args.length == 3 ? Integer.parseInt(args[2]) : 0;
        CountDownLatch stop = new CountDownLatch(1);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop.countDown();
            try {
                stopped.await(15, TimeUnit.SECONDS); // let main close the proxy and the Splicer
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
        try (Splicer splicer = Splicer.create();
             SpliceProxyExample proxy = start(NettySplicer.of(splicer), listen, upstream, header, new Listener() {
                 @Override
                 public void spliced(SplicedPair pair) {
                     pair.done().thenAccept(r -> System.out.println(pair + ": " + r));
                 }

                 @Override
                 public void failed(Throwable cause) {
                     System.err.println("not spliced: " + cause);
                 }
             })) {
            System.out.println("ready " + proxy.address() + " -> " + upstream);
            stop.await();
        } finally {
            stopped.countDown();
        }
    }

    private static InetSocketAddress hostPort(String s) {
        int colon = s.lastIndexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("expected HOST:PORT, got " + s);
        }
        return new InetSocketAddress(s.substring(0, colon), Integer.parseInt(s.substring(colon + 1)));
    }
}
