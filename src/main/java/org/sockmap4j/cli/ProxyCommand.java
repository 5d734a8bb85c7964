package org.sockmap4j.cli;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;

import org.sockmap4j.KernelFeatures;
import org.sockmap4j.SplicePolicy;
import org.sockmap4j.Splicer;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sockmap proxy}: a TCP proxy. {@code splice} hands each connection pair to the kernel
 * ({@link Splicer}: no byte crosses into the JVM); {@code copy} relays bytes in Java (one virtual
 * thread per direction), the baseline.
 */
@Command(name = "proxy", description = "A TCP proxy from --listen to --upstream, until SIGINT/SIGTERM or --duration.")
final class ProxyCommand implements Callable<Integer> {
    enum Mode { splice, copy }

    /** Splice framing, in the kernel's words: skb_verdict alone, or stream_parser + stream_verdict. */
    enum Framing { skb_verdict, stream_parser }

    /** When a connection moves from the user-space relay into the kernel (see SplicePolicy). */
    enum Policy { auto, always }

    @Option(names = "--listen", required = true, paramLabel = "HOST:PORT", description = "Address to listen on.")
    String listen;

    @Option(names = "--upstream", required = true, paramLabel = "HOST:PORT", description = "Address to connect to.")
    String upstream;

    @Option(names = "--mode", defaultValue = "copy", description = "splice (kernel, no byte through the JVM; needs "
            + "root) or copy (Java relay); default ${DEFAULT-VALUE}.")
    Mode mode;

    @Option(names = "--framing", description = "splice mode: skb_verdict (a verdict per received skb, Linux 5.13+) "
            + "or stream_parser (parser + stream_verdict); default: skb_verdict where the kernel has it.")
    Framing framing;

    @Option(names = "--policy", defaultValue = "always", description = "splice mode: always (splice at once) or auto "
            + "(relay each connection in user space, splice it after --splice-after-bytes or --splice-after-ms, like "
            + "HAProxy's splice-auto: short connections faster, bulk dearer in CPU; see docs/performance.md); default "
            + "${DEFAULT-VALUE}.")
    Policy policy;

    @Option(names = "--splice-after-bytes", paramLabel = "BYTES", description = "auto policy: splice a connection "
            + "once it moved this many bytes (both ways; default 65536).")
    Long spliceAfterBytes;

    @Option(names = "--splice-after-ms", paramLabel = "MS", description = "auto policy: splice a connection once it "
            + "lived this long (default 100).")
    Long spliceAfterMs;

    @Option(names = "--splice-sndbuf", paramLabel = "BYTES", defaultValue = "4194304", description = "splice mode: "
            + "SO_SNDBUF of the socket a spliced direction sends out of (the kernel's redirect work retries a full "
            + "buffer a jiffy later); 0 leaves autotuning; default ${DEFAULT-VALUE}.")
    int spliceSndbuf;

    @Option(names = "--splice-rcvbuf", paramLabel = "BYTES", defaultValue = "4194304", description = "splice mode: "
            + "SO_RCVBUF fixed on both sockets of a pair at the hand-over (autotuned windows let the kernel's verdict "
            + "reader repeat a retransmitted segment: docs/performance.md); 0 leaves autotuning; default ${DEFAULT-VALUE}.")
    int spliceRcvbuf;

    @Option(names = "--sockbuf", paramLabel = "BYTES", description = "Set SO_SNDBUF and SO_RCVBUF of the proxy's "
            + "sockets (default: the kernel's autotuning).")
    int sockbuf;

    @Option(names = "--duration", paramLabel = "SECONDS", description = "Stop after this many seconds.")
    long duration;

    @Option(names = "--verbose", description = "Print stack traces on errors.")
    boolean verbose;

    private final AtomicLong connections = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();
    private Splicer splicer;

    private long bytes() {
        if (splicer == null) {
            return bytes.get();
        }
        Splicer.Stats s = splicer.stats();
        return s.clientToUpstream() + s.upstreamToClient();
    }

    @Override
    public Integer call() throws Exception {
        InetSocketAddress from = HostPort.parse("--listen", listen);
        InetSocketAddress to = HostPort.parse("--upstream", upstream);
        if (mode == Mode.splice) {
            Privileges.require("sockmap proxy --mode splice");
            if (framing == null) {
                framing = Splicer.Framing.kernelDefault() == Splicer.Framing.SKB_VERDICT
                        ? Framing.skb_verdict : Framing.stream_parser;
            }
            if (framing == Framing.skb_verdict) {
                KernelFeatures.probe().require(KernelFeatures.Feature.ATTACH_SK_SKB_VERDICT);
            } else {
                KernelFeatures.probe().require(KernelFeatures.Feature.ATTACH_SK_SKB_STREAM_PARSER);
                KernelFeatures.probe().require(KernelFeatures.Feature.ATTACH_SK_SKB_STREAM_VERDICT);
            }
        }
        if (sockbuf < 0 || sockbuf > (1 << 30)) {
            throw new Errors.UserError("--sockbuf must be 0..1073741824");
        }
        SplicePolicy splicePolicy = splicePolicy();
        if (spliceSndbuf < 0 || spliceSndbuf > (1 << 30)) {
            throw new Errors.UserError("--splice-sndbuf must be 0..1073741824");
        }
        if (spliceRcvbuf < 0 || spliceRcvbuf > (1 << 30)) {
            throw new Errors.UserError("--splice-rcvbuf must be 0..1073741824");
        }
        try (ServerSocketChannel server = ServerSocketChannel.open();
             Splicer splicer = mode == Mode.splice ? Splicer.builder().framing(framing == Framing.skb_verdict
                     ? Splicer.Framing.SKB_VERDICT : Splicer.Framing.STREAM_PARSER).policy(splicePolicy).targetSendBuffer(spliceSndbuf)
                     .receiveBuffer(spliceRcvbuf)
                     .create()
                     : null) {
            if (sockbuf > 0) {
                server.setOption(java.net.StandardSocketOptions.SO_RCVBUF, sockbuf); // inherited by accepted sockets
            }
            this.splicer = splicer;
            try {
                server.bind(from, 1024);
            } catch (IOException e) {
                throw new Errors.UserError("cannot listen on " + listen + ": " + e.getMessage());
            }
            // a platform thread blocked in accept(2): one syscall per connection, where a virtual
            // thread parks on EAGAIN and is woken through the JDK's poller (4 more syscalls and two
            // thread hand-offs)
            Thread acceptor = Thread.ofPlatform().daemon().name("sockmap-accept").start(() -> accept(server, to));
            Runner.runUntilStopped("ready proxy listen=" + hostPort((InetSocketAddress) server.getLocalAddress())
                    + " upstream=" + hostPort(to) + " mode=" + mode + (mode == Mode.splice ? " framing=" + framing
                    + " policy=" + policyText(splicePolicy) : ""),
                    duration, () -> "connections " + connections.get() + "  bytes " + bytes());
            server.close();
            acceptor.join(2000);
            System.out.println("stopped connections=" + connections.get() + " bytes=" + bytes()
                    + (splicer != null ? " spliced=" + splicer.stats().pairsSpliced() : ""));
        }
        return 0;
    }

    private SplicePolicy splicePolicy() {
        if (policy == Policy.always) {
            if (spliceAfterBytes != null || spliceAfterMs != null) {
                throw new Errors.UserError("--splice-after-bytes and --splice-after-ms go with --policy auto");
            }
            return SplicePolicy.always();
        }
        SplicePolicy auto = SplicePolicy.auto();
        long bytes = spliceAfterBytes != null ? spliceAfterBytes : auto.bytes();
        long ms = spliceAfterMs != null ? spliceAfterMs : auto.age().toMillis();
        if (bytes < 0 || ms < 0) {
            throw new Errors.UserError("--splice-after-bytes and --splice-after-ms must be >= 0");
        }
        return SplicePolicy.after(bytes, java.time.Duration.ofMillis(ms));
    }

    private static String policyText(SplicePolicy p) {
        return p.immediate() ? "always" : "auto(" + p.bytes() + "B," + p.age().toMillis() + "ms)";
    }

    private static String hostPort(InetSocketAddress a) {
        String h = a.getAddress().getHostAddress();
        return (h.indexOf(':') >= 0 ? "[" + h + "]" : h) + ":" + a.getPort();
    }

    private void accept(ServerSocketChannel server, InetSocketAddress to) {
        while (server.isOpen()) {
            SocketChannel client;
            try {
                client = server.accept();
            } catch (IOException e) {
                return; // closed
            }
            connections.incrementAndGet();
            if (splicer != null) {
                splice(client, to);
            } else {
                Thread.ofVirtual().start(() -> relay(client, to));
            }
        }
    }

    private SocketChannel connect(SocketChannel client, InetSocketAddress to) throws IOException {
        SocketChannel up = SocketChannel.open();
        try {
            for (SocketChannel c : new SocketChannel[] {client, up}) { // a relay adds no Nagle delay
                c.setOption(java.net.StandardSocketOptions.TCP_NODELAY, true);
            }
            if (sockbuf > 0) {
                for (SocketChannel c : new SocketChannel[] {client, up}) {
                    c.setOption(java.net.StandardSocketOptions.SO_SNDBUF, sockbuf);
                    c.setOption(java.net.StandardSocketOptions.SO_RCVBUF, sockbuf);
                }
            }
            up.connect(to);
            return up;
        } catch (IOException e) {
            up.close();
            throw e;
        }
    }

    /**
     * Splice mode, on the accepting thread: starts a non-blocking connect and hands both sockets
     * over at once; the Splicer's watcher finishes the connect (no thread waits for the handshake).
     */
    private void splice(SocketChannel client, InetSocketAddress to) {
        SocketChannel up = null;
        try {
            up = SocketChannel.open();
            if (sockbuf > 0) {
                for (SocketChannel c : new SocketChannel[] {client, up}) {
                    c.setOption(java.net.StandardSocketOptions.SO_SNDBUF, sockbuf);
                    c.setOption(java.net.StandardSocketOptions.SO_RCVBUF, sockbuf);
                }
            }
            up.configureBlocking(false);
            up.connect(to);
            splicer.splice(client, up); // the Splicer owns and closes both from here on
        } catch (IOException | RuntimeException e) {
            closeQuietly(client);
            closeQuietly(up);
        }
    }

    private void relay(SocketChannel client, InetSocketAddress to) {
        try (client; SocketChannel up = connect(client, to)) {
            Thread back = Thread.ofVirtual().start(() -> copy(up, client));
            copy(client, up);
            back.join();
        } catch (IOException | InterruptedException e) {
            // connection failed or ended: nothing to report per connection
        }
    }

    private static void closeQuietly(SocketChannel c) {
        if (c != null) {
            try {
                c.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    private void copy(SocketChannel in, SocketChannel out) {
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        try {
            while (in.read(buf) >= 0) {
                buf.flip();
                bytes.addAndGet(buf.remaining());
                while (buf.hasRemaining()) {
                    out.write(buf);
                }
                buf.clear();
            }
            out.shutdownOutput();
        } catch (IOException e) {
            // peer reset: the other direction ends too
        }
    }
}
