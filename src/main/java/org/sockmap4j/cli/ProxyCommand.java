package org.sockmap4j.cli;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sockmap proxy}: a TCP proxy. {@code copy} relays bytes in Java (one virtual thread per
 * direction); {@code splice} (kernel redirect) arrives with the proxy issue.
 */
@Command(name = "proxy", description = "A TCP proxy from --listen to --upstream, until SIGINT/SIGTERM or --duration.")
final class ProxyCommand implements Callable<Integer> {
    enum Mode { splice, copy }

    @Option(names = "--listen", required = true, paramLabel = "HOST:PORT", description = "Address to listen on.")
    String listen;

    @Option(names = "--upstream", required = true, paramLabel = "HOST:PORT", description = "Address to connect to.")
    String upstream;

    @Option(names = "--mode", defaultValue = "copy", description = "splice (kernel) or copy (Java relay); "
            + "default ${DEFAULT-VALUE}.")
    Mode mode;

    @Option(names = "--duration", paramLabel = "SECONDS", description = "Stop after this many seconds.")
    long duration;

    @Option(names = "--verbose", description = "Print stack traces on errors.")
    boolean verbose;

    private final AtomicLong connections = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();

    @Override
    public Integer call() throws Exception {
        InetSocketAddress from = HostPort.parse("--listen", listen);
        InetSocketAddress to = HostPort.parse("--upstream", upstream);
        if (mode == Mode.splice) {
            throw new Errors.UserError("--mode splice is not available yet (kernel-spliced proxying is being "
                    + "built); use --mode copy");
        }
        try (ServerSocketChannel server = ServerSocketChannel.open()) {
            try {
                server.bind(from, 1024);
            } catch (IOException e) {
                throw new Errors.UserError("cannot listen on " + listen + ": " + e.getMessage());
            }
            Thread acceptor = Thread.ofVirtual().start(() -> accept(server, to));
            Runner.runUntilStopped("ready proxy listen=" + hostPort((InetSocketAddress) server.getLocalAddress())
                    + " upstream=" + hostPort(to) + " mode=copy",
                    duration, () -> "connections " + connections.get() + "  bytes " + bytes.get());
            server.close();
            acceptor.join(2000);
            System.out.println("stopped connections=" + connections.get() + " bytes=" + bytes.get());
        }
        return 0;
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
            Thread.ofVirtual().start(() -> relay(client, to));
        }
    }

    private void relay(SocketChannel client, InetSocketAddress to) {
        try (client; SocketChannel up = SocketChannel.open(to)) {
            Thread back = Thread.ofVirtual().start(() -> copy(up, client));
            copy(client, up);
            back.join();
        } catch (IOException | InterruptedException e) {
            // connection failed or ended: nothing to report per connection
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
