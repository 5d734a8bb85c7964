package org.sockmap4j;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.sockmap4j.internal.unix.ChannelFds;
import org.sockmap4j.internal.unix.Epoll;
import org.sockmap4j.internal.unix.Libc;
import org.sockmap4j.internal.unix.SockOpt;
import org.sockmap4j.internal.unix.TcpQueues;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Kernel-spliced TCP proxying (SK_SKB verdict, ingress to egress; Linux 5.13+ for skb_verdict):
 * after a proxy has accepted a client, read what it needed and connected upstream,
 * {@link #splice} hands both sockets to the kernel, which from then on moves every byte each way
 * without waking the JVM. One Splicer serves many pairs (one map, one attached program, one watcher
 * thread).
 *
 * <h2>Hand-off</h2>
 * Bytes the proxy already read but not yet forwarded are passed to {@code splice} and written
 * first. Both sockets then enter the map that redirects can reach before either enters the map
 * whose verdict redirects, so no redirect ever misses its target; finally each socket is nudged
 * ({@code SO_RCVLOWAT}), which makes the kernel run the verdict over bytes that were already
 * queued before the insertion, in order with anything arriving after, and the JVM never reads
 * spliced data.
 *
 * <h2>Known limits (Linux 6.18, being fixed)</h2>
 * <ul>
 * <li>If the proxy read only part of a TCP segment that is still queued, the kernel's verdict
 * reader takes the whole segment and those bytes reach the upstream twice: read what you read to
 * the end of what is queued, or pass all of it as pending bytes.</li>
 * <li>There is no backpressure between the two sides: data redirected to a side whose peer does
 * not read waits in the kernel without limit.</li>
 * <li>Under heavy load a few streams were seen to stop with data counted by the verdict but not
 * handed to TCP; the pair is reset after 60 s without progress.</li>
 * <li>A socket whose peer already closed (CLOSE_WAIT) cannot be inserted: {@code splice} then
 * throws {@link UnsupportedSocketException} and the caller keeps the sockets.</li>
 * </ul>
 *
 * <h2>End of stream</h2>
 * The kernel does not forward FIN or RST. The watcher sees each side's end: on EOF it waits until
 * everything redirected towards the other side has been handed to that side's TCP (the redirect
 * backlog may still hold some), then shuts down the other side's output; when both directions have
 * ended it closes both sockets. A reset on one side resets the other. The pair's
 * {@link SplicedPair#done()} then completes with its byte counts. The Splicer owns the sockets it
 * splices: it closes them (channels through the channel).
 *
 * <p>Thread-safe. {@link #close()} closes every pair and detaches the program.
 */
public final class Splicer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("org.sockmap4j");
    private static final long DRAIN_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(60);

    private final BpfObject obj;
    private final SockHash<Long> socks;
    private final SockHash<Long> targets;
    private final PeerTable peers;
    private final SkSkbProgram verdict;
    private final SkSkbProgram parser;
    private final List<Attachment> attachments = new ArrayList<>();
    private final Epoll epoll;
    private final Thread watcher;
    private final Map<Long, Pair> pairs = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong();
    private final AtomicLong closedPairs = new AtomicLong();
    private final AtomicLong closedC2u = new AtomicLong();
    private final AtomicLong closedU2c = new AtomicLong();
    private volatile boolean closed;

    /** Statistics of a Splicer: pairs open and ended, bytes each way (ended pairs plus open ones). */
    public record Stats(int pairsOpen, long pairsClosed, long clientToUpstream, long upstreamToClient) {}

    /** How the kernel frames data before the verdict. */
    public enum Framing {
        /** {@code BPF_SK_SKB_VERDICT} without a parser: a verdict per received skb (Linux 5.13+). */
        SKB_VERDICT,
        /**
         * A stream parser that takes whatever arrived, then {@code BPF_SK_SKB_STREAM_VERDICT}.
         * Caution: on 6.18 a stream parser was seen to strand the tail of bulk transfers
         * (about 1 in 10 when the writer outpaces the reader), more often than {@link #SKB_VERDICT}.
         */
        STREAM_PARSER
    }

    private Splicer(int maxPairs, Framing framing) {
        BpfObject o = BpfObject.openBundled("splice");
        try {
            o.maxEntries("socks", 2 * maxPairs).maxEntries("targets", 2 * maxPairs).maxEntries("peers", 2 * maxPairs);
            o.load();
            obj = o;
            socks = obj.sockHash("socks", KeyCodec.u64());
            targets = obj.sockHash("targets", KeyCodec.u64());
            peers = new PeerTable(obj.rawMap("peers", MapType.HASH));
            verdict = obj.skSkb("splice_verdict");
            if (framing == Framing.STREAM_PARSER) {
                parser = obj.skSkb("splice_parser");
                attachments.add(parser.attach(socks, AttachType.SK_SKB_STREAM_PARSER));
                attachments.add(verdict.attach(socks, AttachType.SK_SKB_STREAM_VERDICT));
            } else {
                parser = null;
                attachments.add(verdict.attach(socks, AttachType.SK_SKB_VERDICT));
            }
            epoll = Epoll.create(256);
        } catch (RuntimeException e) {
            closeQuietly();
            o.close();
            throw e;
        }
        watcher = Thread.ofPlatform().daemon().name("sockmap4j-splicer").start(this::watch);
    }

    /** A Splicer for up to 10,000 concurrent pairs, with skb_verdict framing. */
    public static Splicer create() {
        return builder().create();
    }

    /** A builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** Builds a {@link Splicer}. */
    public static final class Builder {
        private int maxPairs = 10_000;
        private Framing framing = Framing.SKB_VERDICT;

        private Builder() {}

        /** Concurrent pairs the maps hold (default 10,000; each pair takes two sockets). */
        public Builder maxPairs(int maxPairs) {
            if (maxPairs < 1 || maxPairs > 1 << 24) {
                throw new IllegalArgumentException("maxPairs must be 1.." + (1 << 24) + ", got " + maxPairs);
            }
            this.maxPairs = maxPairs;
            return this;
        }

        /** How received data is framed before the verdict (default {@link Framing#SKB_VERDICT}). */
        public Builder framing(Framing framing) {
            this.framing = java.util.Objects.requireNonNull(framing);
            return this;
        }

        public Splicer create() {
            return new Splicer(maxPairs, framing);
        }
    }

    // ---- splicing ----

    /** Splices two connected TCP channels; the Splicer owns (and will close) both. */
    public SplicedPair splice(SocketChannel client, SocketChannel upstream) {
        return splice(client, null, upstream, null);
    }

    /**
     * Splices two connected TCP channels after writing what the proxy already read and has not
     * forwarded: {@code toUpstream} (read from the client) and {@code toClient} (read from the
     * upstream); either may be null. The Splicer owns (and will close) both channels.
     */
    public SplicedPair splice(SocketChannel client, ByteBuffer toUpstream, SocketChannel upstream, ByteBuffer toClient) {
        java.util.Objects.requireNonNull(client, "client");
        java.util.Objects.requireNonNull(upstream, "upstream");
        int c = ChannelFds.fdOf(client);
        int u = ChannelFds.fdOf(upstream);
        return register(c, client, toUpstream, u, upstream, toClient);
    }

    /**
     * Splices two connected TCP sockets given as raw fds; the Splicer takes ownership of both fds
     * and closes them when the pair ends.
     */
    public SplicedPair splice(int clientFd, int upstreamFd) {
        return register(clientFd, null, null, upstreamFd, null, null);
    }

    private SplicedPair register(int cFd, SocketChannel cCh, ByteBuffer toUpstream, int uFd, SocketChannel uCh,
            ByteBuffer toClient) {
        if (closed) {
            throw new IllegalStateException("the Splicer is closed");
        }
        if (cFd == uFd) {
            throw new IllegalArgumentException("client and upstream are the same socket");
        }
        writeAll(uFd, toUpstream);
        writeAll(cFd, toClient);
        long cCookie = Sockets.cookie(cFd);
        long uCookie = Sockets.cookie(uFd);
        long id = ids.incrementAndGet();
        Pair p = new Pair(id, new Side(cFd, cCh, cCookie), new Side(uFd, uCh, uCookie), new SplicedPair(this, id));
        pairs.put(id, p);
        try {
            peers.put(cCookie, uCookie);
            peers.put(uCookie, cCookie);
            // reachable as targets first, then redirecting: no redirect can miss its target
            targets.put(cCookie, cFd, UpdateFlag.NOEXIST);
            targets.put(uCookie, uFd, UpdateFlag.NOEXIST);
            p.client.handedBase = TcpQueues.handedToTcp(cFd);
            p.upstream.handedBase = TcpQueues.handedToTcp(uFd);
            socks.put(uCookie, uFd, UpdateFlag.NOEXIST);
            socks.put(cCookie, cFd, UpdateFlag.NOEXIST);
            kick(uFd);
            kick(cFd);
            int mask = Epoll.EPOLLIN | Epoll.EPOLLRDHUP;
            if (epoll.add(cFd, mask, id << 1) < 0 || epoll.add(uFd, mask, id << 1 | 1) < 0) {
                throw new IllegalStateException("cannot watch the spliced sockets");
            }
        } catch (RuntimeException e) {
            pairs.remove(id);
            unmap(p);
            throw e;
        }
        return p.handle;
    }

    /** Writes {@code b} fully to {@code fd}, waiting for room if the socket is non-blocking. */
    private static void writeAll(int fd, ByteBuffer b) {
        if (b == null || !b.hasRemaining()) {
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(b.remaining());
            MemorySegment.copy(MemorySegment.ofBuffer(b), 0, seg, 0, b.remaining());
            long off = 0;
            while (off < seg.byteSize()) {
                long n = Libc.send(fd, seg.asSlice(off), Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT);
                if (n == -Errno.EAGAIN.code()) {
                    waitWritable(fd, arena);
                } else if (n == -Errno.EINTR.code()) {
                    continue;
                } else if (n < 0) {
                    throw Errors.of("send", "fd " + fd + " (bytes read before the splice)", (int) -n, Errors.Op.SOCKET);
                } else {
                    off += n;
                }
            }
            b.position(b.limit());
        }
    }

    private static void waitWritable(int fd, Arena arena) {
        MemorySegment pfd = arena.allocate(8, 4);
        pfd.set(JAVA_INT, 0, fd);
        pfd.set(JAVA_SHORT, 4, Libc.POLLOUT);
        Libc.poll(pfd, 1000);
    }

    /**
     * Makes the kernel run the verdict over data already queued on {@code fd}: setting
     * SO_RCVLOWAT (to its current value) calls the socket's data-ready hook, which the psock
     * replaced with its verdict reader.
     */
    private static void kick(int fd) {
        long low = SockOpt.getInt(fd, Libc.SO_RCVLOWAT);
        int v = SockOpt.failed(low) ? 1 : (int) low;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment val = a.allocate(JAVA_INT);
            val.set(JAVA_INT, 0, v);
            Libc.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_RCVLOWAT, val, 4);
        }
    }

    // ---- the watcher ----

    private static final class Side {
        final int fd;
        final SocketChannel channel;
        final long cookie;
        long handedBase;
        boolean eof;          // this side sent FIN
        boolean shutdownSent; // we shut down this side's output
        long eofAt;

        Side(int fd, SocketChannel channel, long cookie) {
            this.fd = fd;
            this.channel = channel;
            this.cookie = cookie;
        }
    }

    private static final class Pair {
        final long id;
        final Side client;
        final Side upstream;
        final SplicedPair handle;
        boolean ended;

        Pair(long id, Side client, Side upstream, SplicedPair handle) {
            this.id = id;
            this.client = client;
            this.upstream = upstream;
            this.handle = handle;
        }
    }

    private void watch() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(64 * 1024);
            while (!closed) {
                boolean draining = pairs.values().stream().anyMatch(p -> pendingShutdown(p.client, p.upstream)
                        || pendingShutdown(p.upstream, p.client));
                int n = epoll.await(draining ? 1 : 1000);
                for (int i = 0; i < n; i++) {
                    long data = epoll.data(i);
                    if (data == -1) {
                        epoll.clearWakeUp();
                        continue;
                    }
                    Pair p = pairs.get(data >>> 1);
                    if (p != null) {
                        onReadable(p, (data & 1) == 0, buf);
                    }
                }
                if (draining) {
                    for (Pair p : pairs.values()) {
                        progress(p);
                    }
                }
            }
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.ERROR, "sockmap4j: the Splicer's watcher failed", t);
        }
    }

    private static boolean pendingShutdown(Side from, Side to) {
        return from.eof && !to.shutdownSent;
    }

    /** One side is readable: EOF, a reset, or data the verdict passed to user space. */
    private void onReadable(Pair p, boolean clientSide, MemorySegment buf) {
        synchronized (p) {
            if (p.ended) {
                return;
            }
            Side from = clientSide ? p.client : p.upstream;
            Side to = clientSide ? p.upstream : p.client;
            if (from.eof) {
                return;
            }
            long r = Libc.recv(from.fd, buf, Libc.MSG_DONTWAIT);
            if (r > 0) { // passed to user space (no partner at that moment): forward it in order
                if (!forward(to.fd, buf.asSlice(0, r))) {
                    end(p, SplicedPair.End.RESET);
                }
                return;
            }
            if (r == -Errno.EAGAIN.code() || r == -Errno.EINTR.code()) {
                return;
            }
            if (r == -Errno.EPIPE.code()) {
                return; // a transmit error the redirect path reported (and recv just cleared)
            }
            if (r < 0) {
                end(p, SplicedPair.End.RESET);
                return;
            }
            from.eof = true;
            from.eofAt = System.nanoTime();
            epoll.remove(from.fd);
            progress(p);
        }
    }

    private static boolean forward(int fd, MemorySegment data) {
        try (Arena arena = Arena.ofConfined()) {
            long off = 0;
            long deadline = System.nanoTime() + DRAIN_TIMEOUT_NANOS;
            while (off < data.byteSize()) {
                long n = Libc.send(fd, data.asSlice(off), Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT);
                if (n == -Errno.EAGAIN.code()) {
                    if (System.nanoTime() > deadline) {
                        return false;
                    }
                    waitWritable(fd, arena);
                } else if (n < 0 && n != -Errno.EINTR.code()) {
                    return false;
                } else if (n > 0) {
                    off += n;
                }
            }
            return true;
        }
    }

    /** Shuts down outputs whose input side ended once its redirected bytes have drained; ends done pairs. */
    private void progress(Pair p) {
        synchronized (p) {
            if (p.ended) {
                return;
            }
            if (!drainThenShutdown(p, p.client, p.upstream) || !drainThenShutdown(p, p.upstream, p.client)) {
                return;
            }
            if (p.client.eof && p.upstream.eof && p.client.shutdownSent && p.upstream.shutdownSent) {
                end(p, SplicedPair.End.COMPLETED);
            }
        }
    }

    /** False if the pair was ended (timeout or error). */
    private boolean drainThenShutdown(Pair p, Side from, Side to) {
        if (!from.eof || to.shutdownSent) {
            return true;
        }
        long redirected = Math.max(0, peers.bytes(from.cookie));
        long handed = TcpQueues.handedToTcp(to.fd);
        if (handed >= 0 && to.handedBase >= 0 && handed - to.handedBase < redirected) {
            if (System.nanoTime() - from.eofAt > DRAIN_TIMEOUT_NANOS) {
                LOG.log(System.Logger.Level.WARNING, "sockmap4j: pair {0}: redirect backlog did not drain in 60 s",
                        p.id);
                end(p, SplicedPair.End.RESET);
                return false;
            }
            return true; // still in the redirect backlog: look again shortly
        }
        Libc.shutdown(to.fd, Libc.SHUT_WR);
        to.shutdownSent = true;
        return true;
    }

    // ---- ending pairs ----

    /** Live bytes of an open pair, or -1 once it has ended (its Result has the final counts). */
    long bytes(long id, boolean clientToUpstream) {
        Pair p = pairs.get(id);
        if (p == null) {
            return -1;
        }
        return Math.max(0, peers.bytes(clientToUpstream ? p.client.cookie : p.upstream.cookie));
    }

    void end(long id, SplicedPair.End how) {
        Pair p = pairs.get(id);
        if (p != null) {
            synchronized (p) {
                end(p, how);
            }
        }
    }

    private void end(Pair p, SplicedPair.End how) {
        if (p.ended) {
            return;
        }
        p.ended = true;
        long c2u = Math.max(0, peers.bytes(p.client.cookie));
        long u2c = Math.max(0, peers.bytes(p.upstream.cookie));
        epoll.remove(p.client.fd);
        epoll.remove(p.upstream.fd);
        if (how == SplicedPair.End.RESET) {
            reset(p.client.fd);
            reset(p.upstream.fd);
        }
        unmap(p);
        close(p.client);
        close(p.upstream);
        pairs.remove(p.id);
        closedPairs.incrementAndGet();
        closedC2u.addAndGet(c2u);
        closedU2c.addAndGet(u2c);
        p.handle.done.complete(new SplicedPair.Result(how, c2u, u2c));
    }

    private void unmap(Pair p) {
        for (long cookie : new long[] {p.client.cookie, p.upstream.cookie}) {
            try {
                socks.deleteIfPresent(cookie);
                targets.deleteIfPresent(cookie);
            } catch (RuntimeException e) {
                // the socket may have closed already: its entries left by themselves
            }
            peers.delete(cookie);
        }
    }

    /** Makes close() send RST: SO_LINGER {on, 0 s}. */
    private static void reset(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment l = a.allocate(8, 4);
            l.set(JAVA_INT, 0, 1);
            l.set(JAVA_INT, 4, 0);
            Libc.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_LINGER, l, 8);
        }
    }

    private static void close(Side s) {
        if (s.channel != null) {
            try {
                s.channel.close();
            } catch (IOException e) {
                // closing anyway
            }
        } else {
            Libc.close(s.fd);
        }
    }

    /** Pairs open and ended, and bytes moved each way (ended pairs plus the open ones so far). */
    public Stats stats() {
        long c2u = closedC2u.get();
        long u2c = closedU2c.get();
        for (Pair p : pairs.values()) {
            c2u += Math.max(0, peers.bytes(p.client.cookie));
            u2c += Math.max(0, peers.bytes(p.upstream.cookie));
        }
        return new Stats(pairs.size(), closedPairs.get(), c2u, u2c);
    }

    /** Ends every pair ({@link SplicedPair.End#CLOSED}), stops the watcher, detaches. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        epoll.wakeUp();
        try {
            watcher.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Pair p : List.copyOf(pairs.values())) {
            synchronized (p) {
                end(p, SplicedPair.End.CLOSED);
            }
        }
        epoll.close();
        closeQuietly();
        obj.close();
    }

    private void closeQuietly() {
        List<AutoCloseable> order = new ArrayList<>(attachments.reversed());
        order.addAll(java.util.Arrays.asList(parser, verdict, peers, targets, socks));
        for (AutoCloseable c : order) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception ignored) {
                // best effort
            }
        }
    }
}
