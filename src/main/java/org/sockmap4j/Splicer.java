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
 * {@code splice} first checks both sockets (connected TCP, not already in a pair of this
 * Splicer) and refuses before touching any data. It then writes the bytes the proxy already read
 * but not yet forwarded, and moves whatever is queued on each socket to the other itself, until
 * the receive queue is empty: the kernel's verdict reader takes whole queued segments, ignoring
 * how much of one was already read, so a socket must enter the map with nothing partly read.
 * Both sockets then enter the map that redirects can reach before either enters the map whose
 * verdict redirects, so no redirect ever misses its target; finally each socket is nudged
 * ({@code SO_RCVLOWAT}) so the verdict runs over anything that arrived meanwhile. No byte is lost,
 * repeated or reordered, and the JVM never reads spliced data. Both sockets get TCP_NODELAY
 * (see {@link Builder#noDelay}).
 *
 * <p>A side whose peer has already sent FIN (CLOSE_WAIT) cannot enter a socket map. Such a pair,
 * whether it was so when {@code splice} was called or became so during the hand-off, is relayed
 * by the watcher thread in user space instead; if the client closes just after the upstream's
 * redirect went live, only the client's direction is relayed.
 *
 * <h2>Known limits (Linux 6.18)</h2>
 * <ul>
 * <li>There is no backpressure between the two sides: data redirected to a side whose peer does
 * not read waits in that socket's psock queue without limit (measured: 1 GiB accepted in 5 s,
 * about 870 MB of kernel memory, all delivered once the peer read).</li>
 * <li>Each direction's redirects are sent by one psock work item, which retries a full socket
 * only a jiffy later: a single flow is capped near one send buffer per jiffy (small fixed
 * buffers hurt; autotuning or 4 MiB is fine), and each message pays a kworker wake-up per
 * direction (about 10 us more per round trip than a direct connection here, a user-space relay
 * adds about 5x that; see docs/performance.md).</li>
 * <li>If the kernel stops redirecting to a socket (it reports EPIPE on it), the stream is broken
 * and both sides are reset; a pair whose redirect backlog does not drain within 60 s after one
 * side's FIN is reset too.</li>
 * <li>Relayed pairs (see above) are copied by the one watcher thread with blocking writes.</li>
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
    private static final long HANDOFF_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(30);

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
    private final Map<Long, Pair> byCookie = new ConcurrentHashMap<>();
    private final Object statsLock = new Object();
    private long closedPairs;
    private long closedC2u;
    private long closedU2c;
    private final boolean noDelay;
    private final Framing framing;
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
        STREAM_PARSER;

        /** What {@link Builder#create()} uses by default: SKB_VERDICT where the kernel has it (5.13+). */
        public static Framing kernelDefault() {
            return KernelFeatures.probe().has(KernelFeatures.Feature.ATTACH_SK_SKB_VERDICT) ? SKB_VERDICT : STREAM_PARSER;
        }
    }

    private Splicer(int maxPairs, Framing framing, boolean noDelay) {
        this.noDelay = noDelay;
        this.framing = framing;
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

    /**
     * A Splicer for up to 10,000 concurrent pairs, with skb_verdict framing (stream-parser framing
     * on kernels before 5.13).
     */
    public static Splicer create() {
        return builder().create();
    }

    /** The framing this Splicer attached (see {@link Builder#framing}). */
    public Framing framing() {
        return framing;
    }

    /** A builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** Builds a {@link Splicer}. */
    public static final class Builder {
        private int maxPairs = 10_000;
        private Framing framing;
        private boolean noDelay = true;

        private Builder() {}

        /**
         * Whether {@code splice} turns TCP_NODELAY on for both sockets (default true): a proxy
         * should not delay what it forwards; with Nagle's algorithm on, the tail of each burst waits
         * for the previous one's ACK (40 ms with delayed ACKs were measured on 1 MiB round trips).
         */
        public Builder noDelay(boolean noDelay) {
            this.noDelay = noDelay;
            return this;
        }

        /** Concurrent pairs the maps hold (default 10,000; each pair takes two sockets). */
        public Builder maxPairs(int maxPairs) {
            if (maxPairs < 1 || maxPairs > 1 << 24) {
                throw new IllegalArgumentException("maxPairs must be 1.." + (1 << 24) + ", got " + maxPairs);
            }
            this.maxPairs = maxPairs;
            return this;
        }

        /**
         * How received data is framed before the verdict. The default is {@link Framing#SKB_VERDICT}
         * where the kernel has it (5.13+) and {@link Framing#STREAM_PARSER} before; asking for
         * SKB_VERDICT explicitly on an older kernel makes {@link #create()} throw
         * {@link NotSupportedException}.
         */
        public Builder framing(Framing framing) {
            this.framing = java.util.Objects.requireNonNull(framing);
            return this;
        }

        /** Loads the bundled splice program, sizes its maps and attaches it. */
        public Splicer create() {
            return new Splicer(maxPairs, framing == null ? Framing.kernelDefault() : framing, noDelay);
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
     *
     * @throws UnsupportedSocketException if either is not an established TCP socket (nothing was
     *         touched: the caller keeps both)
     * @throws IllegalArgumentException if both are the same socket or either is already spliced
     *         (nothing was touched)
     * @throws BpfException if the hand-off failed after it began moving data: both sockets have
     *         then been reset and closed
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

    /**
     * Splices two connected TCP sockets given as raw fds after writing the bytes the proxy already
     * read and has not forwarded (either buffer may be null); the Splicer takes ownership of both
     * fds. Errors as for {@link #splice(SocketChannel, ByteBuffer, SocketChannel, ByteBuffer)}.
     */
    public SplicedPair splice(int clientFd, ByteBuffer toUpstream, int upstreamFd, ByteBuffer toClient) {
        return register(clientFd, null, toUpstream, upstreamFd, null, toClient);
    }

    private SplicedPair register(int cFd, SocketChannel cCh, ByteBuffer toUpstream, int uFd, SocketChannel uCh,
            ByteBuffer toClient) {
        if (closed) {
            throw new IllegalStateException("the Splicer is closed");
        }
        if (cFd == uFd) {
            throw new IllegalArgumentException("client and upstream are the same socket (fd " + cFd + ")");
        }
        SpliceSockets.checkSpliceable(cFd, "client");
        SpliceSockets.checkSpliceable(uFd, "upstream");
        long cCookie = Sockets.cookie(cFd);
        long uCookie = Sockets.cookie(uFd);
        if (cCookie == uCookie) {
            throw new IllegalArgumentException("client and upstream are the same socket (cookie " + cCookie + ")");
        }
        long id = ids.incrementAndGet();
        Pair p = new Pair(id, new Side(cFd, cCh, cCookie), new Side(uFd, uCh, uCookie), new SplicedPair(this, id));
        reserve(p);
        boolean touched = false;
        try {
            long deadline = System.nanoTime() + HANDOFF_TIMEOUT_NANOS;
            touched = true;
            if (noDelay) {
                SpliceSockets.noDelay(cFd);
                SpliceSockets.noDelay(uFd);
            }
            // pending bytes first, then what is queued, both ways, until each queue was read to
            // empty: from then on the verdict sees only whole segments nobody read
            try (Arena arena = Arena.ofConfined()) {
                HandOffPump.Side[] moved = HandOffPump.run(cFd, toUpstream, uFd, toClient, deadline, arena);
                handedOff(p.client, moved[0]);
                handedOff(p.upstream, moved[1]);
            }
            p.client.handedBase = TcpQueues.handedToTcp(cFd);
            p.upstream.handedBase = TcpQueues.handedToTcp(uFd);
            received(p.client);
            received(p.upstream);
            // a side that already sent FIN cannot enter a socket map (the kernel takes ESTABLISHED
            // only): the watcher relays the other direction in user space. A FIN can also arrive
            // between the drain and an insert: until a redirect is live, fall back to the relay;
            // after (only the client's verdict insert is left then), relay just that direction.
            p.relay = p.client.eof || p.upstream.eof;
            if (!p.relay) {
                peers.put(cCookie, uCookie);
                peers.put(uCookie, cCookie);
                // reachable as targets first, then redirecting: no redirect can miss its target
                p.relay = !insert(targets, p.client) || !insert(targets, p.upstream) || !insert(socks, p.upstream);
                if (p.relay) {
                    unmap(p); // nothing was redirected yet
                    p.client.spliced = false;
                    p.upstream.spliced = false;
                } else {
                    insert(socks, p.client); // refused: the client's bytes are relayed, the upstream's spliced
                    SpliceSockets.kick(uFd);
                    SpliceSockets.kick(cFd);
                }
            }
            watch(p, p.client, id << 1);
            watch(p, p.upstream, id << 1 | 1);
            pairs.put(id, p);
            if (p.relay) {
                progress(p); // propagate the FIN the hand-off read
            }
        } catch (RuntimeException e) {
            epoll.remove(cFd);
            epoll.remove(uFd);
            unmap(p);
            release(p);
            if (touched) {
                SpliceSockets.reset(cFd);
                SpliceSockets.reset(uFd);
                close(p.client);
                close(p.upstream);
            }
            throw e;
        }
        return p.handle;
    }

    /** Where a side's received and user-space byte counts stand as the verdict takes over. */
    private static void received(Side s) {
        // what the reader consumed, not what TCP received: bytes arriving after the hand-off's
        // last read are the verdict's to judge (and count), so they must be after the base
        long consumed = TcpQueues.consumedByReader(s.fd);
        s.receivedBase = consumed >= 0 ? consumed : TcpQueues.receivedByTcp(s.fd);
        s.handedOffBase = s.handedOff;
    }

    private static void handedOff(Side s, HandOffPump.Side moved) {
        s.handedOff = moved.moved;
        if (moved.eof) {
            s.eof = true;
            s.eofAt = System.nanoTime();
        }
    }

    /**
     * Inserts a side; false if the kernel refused it because its peer has just closed (the TCP
     * state left ESTABLISHED during the hand-off).
     */
    private boolean insert(SockHash<Long> map, Side s) {
        try {
            map.put(s.cookie, s.fd, UpdateFlag.NOEXIST);
            s.spliced |= map == socks;
            return true;
        } catch (UnsupportedSocketException e) {
            if (SpliceSockets.tcpState(s.fd) == SpliceSockets.TCP_CLOSE_WAIT) {
                return false;
            }
            throw e;
        }
    }

    /**
     * Watches a side: a spliced side for end of stream (EPOLLRDHUP: the psock wakes EPOLLIN
     * waiters for every skb it redirects, which would cost the watcher a wake-up per skb); a
     * relayed side for data too; a side that ended for errors only (edge-triggered).
     */
    private void watch(Pair p, Side s, long data) {
        int mask = s.eof ? Epoll.EPOLLET : s.spliced ? Epoll.EPOLLRDHUP : Epoll.EPOLLIN | Epoll.EPOLLRDHUP;
        int r = epoll.add(s.fd, mask, data);
        if (r < 0) {
            throw Errors.of("epoll_ctl", "spliced pair " + p.id, -r, Errors.Op.GENERIC);
        }
    }

    /** Claims both cookies for {@code p}, or throws if either is in a live pair (nothing touched). */
    private void reserve(Pair p) {
        Pair other = byCookie.putIfAbsent(p.client.cookie, p);
        if (other != null) {
            throw new IllegalArgumentException("the client socket is already spliced (" + other.handle + ")");
        }
        other = byCookie.putIfAbsent(p.upstream.cookie, p);
        if (other != null) {
            byCookie.remove(p.client.cookie, p);
            throw new IllegalArgumentException("the upstream socket is already spliced (" + other.handle + ")");
        }
    }

    private void release(Pair p) {
        byCookie.remove(p.client.cookie, p);
        byCookie.remove(p.upstream.cookie, p);
    }

    // ---- the watcher ----

    private static final class Side {
        final int fd;
        final SocketChannel channel;
        final long cookie;
        long handedBase;
        long receivedBase = -1;  // bytes the reader had consumed when the verdict took over
        long handedOffBase;      // handedOff then
        boolean spliced;      // in socks: the verdict redirects what it receives
        volatile long handedOff; // bytes moved in user space: queued before the splice, passed, or relayed
        boolean eof;          // this side sent FIN
        boolean shutdownSent; // we shut down this side's output
        long eofAt;
        long finBeforeVerdictAt; // when its FIN was seen before the verdict judged every byte (0: not)

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
        boolean relay; // not in the maps: the watcher copies (a side ended during the hand-off)
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
                boolean draining = pairs.values().stream().anyMatch(Splicer::needsPolling);
                int n = epoll.await(draining ? 1 : 1000);
                for (int i = 0; i < n; i++) {
                    long data = epoll.data(i);
                    if (data == -1) {
                        epoll.clearWakeUp();
                        continue;
                    }
                    Pair p = pairs.get(data >>> 1);
                    if (p != null) {
                        onEvent(p, (data & 1) == 0, buf);
                    }
                }
                if (draining) {
                    for (Pair p : pairs.values()) {
                        if (p.client.finBeforeVerdictAt != 0) {
                            onEvent(p, true, buf);
                        }
                        if (p.upstream.finBeforeVerdictAt != 0) {
                            onEvent(p, false, buf);
                        }
                        progress(p);
                    }
                }
            }
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.ERROR, "sockmap4j: the Splicer's watcher failed", t);
        }
    }

    /**
     * Whether the watcher must look at the pair again within a millisecond, as no event will tell
     * it: a side's FIN waits for the redirect backlog to drain before it is passed on, or came
     * before the verdict judged every byte ahead of it ({@link #verdictBehind}).
     */
    private static boolean needsPolling(Pair p) {
        return pendingShutdown(p.client, p.upstream) || pendingShutdown(p.upstream, p.client)
                || p.client.finBeforeVerdictAt != 0 || p.upstream.finBeforeVerdictAt != 0;
    }

    private static boolean pendingShutdown(Side from, Side to) {
        return from.eof && !to.shutdownSent;
    }

    /** One side is readable (EOF, an error, or data the verdict passed to user space) or failed. */
    private void onEvent(Pair p, boolean clientSide, MemorySegment buf) {
        synchronized (p) {
            if (p.ended) {
                return;
            }
            Side from = clientSide ? p.client : p.upstream;
            Side to = clientSide ? p.upstream : p.client;
            if (from.eof) { // watched for errors only (edge-triggered): a reset after its FIN
                int err = SpliceSockets.pendingError(from.fd);
                if (err != 0) {
                    endOnError(p, from, err);
                }
                return;
            }
            if (verdictBehind(p, from, clientSide)) {
                return;
            }
            long r = Libc.recv(from.fd, buf, Libc.MSG_DONTWAIT);
            if (r > 0) { // passed to user space (no partner, or a relayed pair): forward it in order
                if (!forward(to.fd, buf.asSlice(0, r))) {
                    end(p, SplicedPair.End.RESET);
                } else {
                    from.handedOff += r;
                }
                return;
            }
            if (r == -Errno.EAGAIN.code() || r == -Errno.EINTR.code()) {
                return;
            }
            if (r < 0) {
                endOnError(p, from, (int) -r);
                return;
            }
            from.eof = true;
            from.eofAt = System.nanoTime();
            from.finBeforeVerdictAt = 0;
            epoll.modify(from.fd, Epoll.EPOLLET, p.id << 1 | (clientSide ? 0 : 1));
            progress(p);
        }
    }

    /**
     * Whether a spliced side's FIN (or reset) arrived before the verdict judged every byte ahead
     * of it, in which case the watcher must not recv() yet: while the psock's own queue is empty,
     * recv() reads the socket's receive queue directly (tcp_bpf_recvmsg falls back to
     * tcp_recvmsg), so bytes a stream parser has not reached yet (5.10: its work runs on a
     * workqueue whenever the socket was locked) would be forwarded by the watcher ahead of bytes
     * the verdict already redirected but the target has not sent yet. The side is then looked at
     * every millisecond (edge-triggered, see {@link #watch()}) until the verdict caught up, its
     * socket failed (reset), or {@link #DRAIN_TIMEOUT_NANOS} passed (both sides reset).
     */
    private boolean verdictBehind(Pair p, Side from, boolean clientSide) {
        if (!from.spliced || p.relay || !unprocessed(from, Math.max(0, peers.bytes(from.cookie)))) {
            return false;
        }
        int err = SpliceSockets.pendingError(from.fd);
        if (err != 0) {
            endOnError(p, from, err);
            return true;
        }
        long now = System.nanoTime();
        if (from.finBeforeVerdictAt == 0) {
            LOG.log(System.Logger.Level.DEBUG, "sockmap4j: pair {0}: the {1}''s FIN came before the verdict judged every"
                    + " byte; waiting for it", p.id, clientSide ? "client" : "upstream");
            from.finBeforeVerdictAt = now;
            epoll.modify(from.fd, Epoll.EPOLLET | Epoll.EPOLLRDHUP, p.id << 1 | (clientSide ? 0 : 1));
        } else if (now - from.finBeforeVerdictAt > DRAIN_TIMEOUT_NANOS) {
            LOG.log(System.Logger.Level.WARNING, "sockmap4j: pair {0}: the verdict did not reach the {1}''s FIN in 60 s",
                    p.id, clientSide ? "client" : "upstream");
            end(p, SplicedPair.End.RESET);
        }
        return true;
    }

    /**
     * A side failed: a reset from its peer (ECONNRESET), or EPIPE, which the kernel reports when
     * it could not hand redirected data to this socket's TCP and stopped redirecting to it: the
     * stream is broken either way, so both sides are reset.
     */
    private void endOnError(Pair p, Side s, int errno) {
        // EPIPE on a socket its peer reset (TCP CLOSE) is that reset seen by the redirect: no news
        if (errno == Errno.EPIPE.code() && SpliceSockets.tcpState(s.fd) != SpliceSockets.TCP_CLOSE) {
            Side o = s == p.client ? p.upstream : p.client;
            LOG.log(System.Logger.Level.WARNING, "sockmap4j: pair {0}: the kernel stopped redirecting to the {1} "
                    + "socket (EPIPE); resetting both sides [state {2}, eof {3}/{4}, shut {5}/{6}, redirected to it {7},"
                    + " handed {8}]", p.id, s == p.client ? "client" : "upstream", SpliceSockets.tcpState(s.fd),
                    s.eof, o.eof, s.shutdownSent, o.shutdownSent, peers.bytes(o.cookie),
                    TcpQueues.handedToTcp(s.fd) - s.handedBase);
        } else {
            LOG.log(System.Logger.Level.DEBUG, "sockmap4j: pair {0}: errno {1} on the {2} socket (TCP state {3});"
                    + " resetting both sides", p.id, errno, s == p.client ? "client" : "upstream",
                    SpliceSockets.tcpState(s.fd));
        }
        end(p, SplicedPair.End.RESET);
    }

    private static boolean forward(int fd, MemorySegment data) {
        try {
            SpliceSockets.writeAll(fd, data, System.nanoTime() + DRAIN_TIMEOUT_NANOS, "fd " + fd);
            return true;
        } catch (BpfException e) {
            return false;
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
        // what the other side's TCP must have taken before its FIN: every redirected byte, and
        // every byte of this direction the watcher forwarded itself since the hand-off
        long owed = redirected + (from.handedOff - from.handedOffBase);
        if (unprocessed(from, redirected)
                || handed >= 0 && to.handedBase >= 0 && handed - to.handedBase < owed) {
            int err = SpliceSockets.pendingError(to.fd);
            if (err != 0) {
                endOnError(p, to, err);
                return false;
            }
            if (System.nanoTime() - from.eofAt > DRAIN_TIMEOUT_NANOS) {
                LOG.log(System.Logger.Level.WARNING, "sockmap4j: pair {0}: redirect backlog did not drain in 60 s",
                        p.id);
                end(p, SplicedPair.End.RESET);
                return false;
            }
            return true; // still in the redirect backlog: look again shortly
        }
        if (LOG.isLoggable(System.Logger.Level.DEBUG)) {
            LOG.log(System.Logger.Level.DEBUG, "sockmap4j: pair {0}: FIN on to the {1}: received since the hand-off {2},"
                    + " redirected {3}, forwarded {4}; the {1} took {5} of {6}", p.id,
                    to == p.client ? "client" : "upstream",
                    from.receivedBase < 0 ? "?" : TcpQueues.receivedByTcp(from.fd) - 1 - from.receivedBase, redirected,
                    from.handedOff - from.handedOffBase, handed - to.handedBase, owed);
        }
        Libc.shutdown(to.fd, Libc.SHUT_WR);
        to.shutdownSent = true;
        return true;
    }

    /**
     * Whether {@code from}'s psock still holds bytes TCP received but the verdict has not seen:
     * recv() can see EOF while a stream parser (5.10: on its workqueue whenever the socket was
     * locked, e.g. by our own recv) has not run the verdict on the last bytes yet; shutting the
     * other side down then made those bytes fail (EPIPE) and the receiver saw a clean, short
     * stream. Every byte received since the verdict took over is either redirected (counted by
     * the program) or passed to user space and forwarded (handedOff). Called only after from's
     * FIN, which tcpi_bytes_received counts as one byte.
     */
    private boolean unprocessed(Side from, long redirected) {
        if (!from.spliced || from.receivedBase < 0) {
            return false;
        }
        long received = TcpQueues.receivedByTcp(from.fd);
        // called once from's FIN arrived: TCP counts it as one byte of sequence space (rcv_nxt + 1)
        return received >= 0 && received - 1 - from.receivedBase > redirected + (from.handedOff - from.handedOffBase);
    }

    // ---- ending pairs ----

    /** Live bytes of an open pair, or -1 once it has ended (its Result has the final counts). */
    long bytes(long id, boolean clientToUpstream) {
        Pair p = pairs.get(id);
        if (p == null) {
            return -1;
        }
        return bytes(clientToUpstream ? p.client : p.upstream);
    }

    /** Bytes received on {@code s} and sent out of the other side: moved at hand-off plus redirected. */
    private long bytes(Side s) {
        return s.handedOff + Math.max(0, peers.bytes(s.cookie));
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
        long c2u = bytes(p.client);
        long u2c = bytes(p.upstream);
        epoll.remove(p.client.fd);
        epoll.remove(p.upstream.fd);
        if (how == SplicedPair.End.RESET) {
            SpliceSockets.reset(p.client.fd);
            SpliceSockets.reset(p.upstream.fd);
        }
        synchronized (statsLock) { // stats() sees the pair either open or ended, never both or neither
            closedC2u += c2u;
            closedU2c += u2c;
            closedPairs++;
            pairs.remove(p.id);
        }
        unmap(p); // after: stats() of an open pair reads its counts from the peers entries
        close(p.client);
        close(p.upstream);
        release(p);
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
        synchronized (statsLock) {
            long c2u = closedC2u;
            long u2c = closedU2c;
            for (Pair p : pairs.values()) {
                c2u += bytes(p.client);
                u2c += bytes(p.upstream);
            }
            return new Stats(pairs.size(), closedPairs, c2u, u2c);
        }
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
