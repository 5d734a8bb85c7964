package org.sockmap4j.netty.example;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;

import io.netty.channel.ChannelOption;
import reactor.netty.Connection;
import reactor.netty.DisposableServer;
import reactor.netty.resources.LoopResources;
import reactor.netty.tcp.TcpClient;
import reactor.netty.tcp.TcpServer;

import org.sockmap4j.SplicedPair;
import org.sockmap4j.Splicer;
import org.sockmap4j.netty.NettySplicer;

/**
 * The example proxy of {@link SpliceProxyExample} on Reactor Netty (the engine under Spring Cloud
 * Gateway): a {@code TcpServer} whose handler reads each client's fixed-length header (optional)
 * through the connection's inbound, connects to the upstream with a non-pooled {@code TcpClient},
 * writes the header to it, and then hands both connections' channels ({@code connection.channel()})
 * to a {@link NettySplicer}. From then on the kernel moves the data (SK_SKB verdict, Linux 5.13+).
 * See {@link ReactorHandOff} for one connection's steps, and {@link HeldInbound} for how nothing
 * Reactor read ahead is lost.
 *
 * <p>What the adapter needs from Reactor: native epoll channels (netty-transport-native-epoll on
 * the class path and {@code runOn(loops, true)}; Reactor would prefer io_uring if
 * netty-transport-native-io_uring were there too), both connections on one event loop (the
 * {@code TcpClient} runs on the server's colocating {@link LoopResources} and connects from the
 * client's loop), a {@code TcpClient} without a pool (a spliced connection cannot go back to
 * one), and every byte Reactor received and did not forward passed to the adapter.
 *
 * <p>Run it as root (or with CAP_BPF and CAP_NET_ADMIN), on the test class path:
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp ... org.sockmap4j.netty.example.ReactorSpliceProxyExample \
 *     127.0.0.1:8000 127.0.0.1:9000 [HEADER_BYTES]
 * </pre>
 * Like the Netty example it lives with the tests and is exercised by an integrity test
 * ({@code ReactorNettyIntegrityTest}).
 */
public final class ReactorSpliceProxyExample implements AutoCloseable {

    /** What became of each accepted client; called in the client's event loop. */
    public interface Listener {
        /**
         * The client and its upstream were spliced. Reactor reads ahead of what the proxy asks for
         * (see {@link HeldInbound}), so more than the header can have passed through the proxy:
         * {@code readToUpstream} bytes (the header included) and {@code readToClient} bytes were
         * read by Reactor and written by the proxy, and are not in the pair's byte counts.
         */
        void spliced(SplicedPair pair, long readToUpstream, long readToClient);

        /** The client could not be spliced (it left, the upstream refused, a channel closed, the splice failed). */
        void failed(Throwable cause);
    }

    private final LoopResources loops;
    private final DisposableServer server;

    private ReactorSpliceProxyExample(LoopResources loops, DisposableServer server) {
        this.loops = loops;
        this.server = server;
    }

    /**
     * Starts a proxy listening on {@code listen} in front of {@code upstream}; each client's first
     * {@code headerLength} bytes (0: none) are read through Reactor before the splice. The listener
     * is called in the client's event loop.
     */
    public static ReactorSpliceProxyExample start(NettySplicer splicer, InetSocketAddress listen,
            SocketAddress upstream, int headerLength, Listener listener) {
        Objects.requireNonNull(splicer);
        Objects.requireNonNull(upstream);
        Objects.requireNonNull(listener);
        if (headerLength < 0) {
            throw new IllegalArgumentException("headerLength must be >= 0, got " + headerLength);
        }
        // two daemon worker loops; clients of these resources colocate with the calling loop
        LoopResources loops = LoopResources.create("sockmap4j-reactor", 2, true);
        try {
            TcpClient upstreams = TcpClient.newConnection().runOn(loops, true).remoteAddress(() -> upstream);
            DisposableServer server = TcpServer.create()
                    .runOn(loops, true)
                    .bindAddress(() -> listen)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .handle((in, out) -> {
                        Connection[] client = new Connection[1];
                        in.withConnection(c -> client[0] = c);
                        return ReactorHandOff.start(client[0], splicer, upstreams, headerLength, listener);
                    })
                    .bindNow(Duration.ofSeconds(10));
            return new ReactorSpliceProxyExample(loops, server);
        } catch (RuntimeException e) {
            loops.disposeLater(Duration.ZERO, Duration.ofSeconds(1)).block(Duration.ofSeconds(10));
            throw e;
        }
    }

    /** Where clients connect. */
    public InetSocketAddress address() {
        return (InetSocketAddress) server.address();
    }

    /**
     * Stops accepting and shuts down the event loops; spliced pairs belong to the Splicer and
     * carry on until it is closed.
     */
    @Override
    public void close() {
        try {
            server.disposeNow(Duration.ofSeconds(5));
        } finally {
            loops.disposeLater(Duration.ZERO, Duration.ofSeconds(1)).block(Duration.ofSeconds(10));
        }
    }

    /** {@code ReactorSpliceProxyExample LISTEN_HOST:PORT UPSTREAM_HOST:PORT [HEADER_BYTES]}; stops on Ctrl-C. */
    public static void main(String[] args) throws Exception {
        if (args.length < 2 || args.length > 3) {
            System.err.println("usage: ReactorSpliceProxyExample LISTEN_HOST:PORT UPSTREAM_HOST:PORT [HEADER_BYTES]");
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
                stopped.await(15, java.util.concurrent.TimeUnit.SECONDS); // let main close the proxy and the Splicer
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
        try (Splicer splicer = Splicer.create();
             ReactorSpliceProxyExample proxy = start(NettySplicer.of(splicer), listen, upstream, header,
                     new Listener() {
                         @Override
                         public void spliced(SplicedPair pair, long readToUpstream, long readToClient) {
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
