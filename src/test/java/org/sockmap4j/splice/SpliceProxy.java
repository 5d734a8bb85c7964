package org.sockmap4j.splice;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.sockmap4j.SplicedPair;
import org.sockmap4j.Splicer;

/**
 * A test proxy on loopback: one platform thread accepts clients, runs a {@link HandOff} (which may
 * read a header, connects upstream and splices) and queues the resulting pairs. A hand-off that
 * fails has its channels closed and its error recorded ({@link #errors()}).
 *
 * <p>{@link #close()} stops accepting, joins the thread (bounded) and closes the listener. Pairs
 * already spliced are owned by the Splicer and are not touched.
 */
final class SpliceProxy implements AutoCloseable {

    /** Connects to the upstream server; the proxy closes the channel if the hand-off then fails. */
    interface Upstream {
        SocketChannel connect() throws IOException;
    }

    /** What the proxy does with an accepted client: read what it needs, connect upstream, splice. */
    @FunctionalInterface
    interface HandOff {
        SplicedPair handOff(Splicer splicer, SocketChannel client, Upstream upstream) throws Exception;
    }

    /** Connects upstream at once and splices both channels, with nothing read before. */
    static final HandOff PLAIN = (splicer, client, upstream) -> splicer.splice(client, upstream.connect());

    private final Splicer splicer;
    private final ServerSocketChannel listener;
    private final SocketAddress upstreamAddress;
    private final HandOff handOff;
    private final BlockingQueue<Spliced> pairs = new LinkedBlockingQueue<>();
    private final List<Throwable> errors = new CopyOnWriteArrayList<>();
    private final Thread acceptor;
    private volatile boolean closed;

    private SpliceProxy(Splicer splicer, SocketAddress upstreamAddress, HandOff handOff) throws IOException {
        this.splicer = splicer;
        this.upstreamAddress = upstreamAddress;
        this.handOff = handOff;
        this.listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0), 1024);
        this.acceptor = Thread.ofPlatform().daemon().name("splice-proxy-acceptor").unstarted(this::acceptLoop);
    }

    /**
     * A spliced pair with the proxy's two channels (owned by the Splicer from then on) and the
     * client's address as the proxy saw it at accept time.
     */
    record Spliced(SocketChannel client, SocketChannel upstream, SplicedPair pair, SocketAddress clientAddress) {}

    /** Starts a proxy in front of {@code upstreamAddress}. */
    static SpliceProxy start(Splicer splicer, SocketAddress upstreamAddress, HandOff handOff) throws IOException {
        SpliceProxy p = new SpliceProxy(Objects.requireNonNull(splicer), Objects.requireNonNull(upstreamAddress),
                Objects.requireNonNull(handOff));
        p.acceptor.start();
        return p;
    }

    /** Where clients connect. */
    SocketAddress address() throws IOException {
        return listener.getLocalAddress();
    }

    /** The next spliced pair, waiting up to {@code timeout}; fails if none came. */
    SplicedPair nextPair(Duration timeout) throws InterruptedException {
        return nextSpliced(timeout).pair();
    }

    /** The next spliced pair and its channels, waiting up to {@code timeout}; fails if none came. */
    Spliced nextSpliced(Duration timeout) throws InterruptedException {
        Spliced p = pairs.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
        if (p == null) {
            AssertionError e = new AssertionError("no spliced pair within " + timeout + "; hand-off errors: " + errors);
            errors.forEach(e::addSuppressed);
            throw e;
        }
        return p;
    }

    /** Errors of failed hand-offs (the accept loop's own failure included). */
    List<Throwable> errors() {
        return errors;
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel client;
            try {
                client = listener.accept();
            } catch (ClosedChannelException e) {
                return; // closed: done
            } catch (IOException e) {
                if (!closed) {
                    errors.add(e);
                }
                return;
            }
            SocketChannel[] up = new SocketChannel[1];
            try {
                SocketAddress clientAddress = client.getRemoteAddress();
                SplicedPair p = handOff.handOff(splicer, client, () -> {
                    up[0] = SocketChannel.open(upstreamAddress);
                    return up[0];
                });
                pairs.add(new Spliced(client, up[0], p, clientAddress));
            } catch (Throwable t) {
                errors.add(t);
                closeQuietly(client);
                closeQuietly(up[0]);
            }
        }
    }

    static void closeQuietly(AutoCloseable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception ignored) {
            // best effort
        }
    }

    @Override
    public void close() throws InterruptedException {
        closed = true;
        closeQuietly(listener);
        acceptor.join(TimeUnit.SECONDS.toMillis(10));
        if (acceptor.isAlive()) {
            acceptor.interrupt(); // a hand-off blocked on a read: interrupting closes its channel
            acceptor.join(TimeUnit.SECONDS.toMillis(5));
        }
    }
}
