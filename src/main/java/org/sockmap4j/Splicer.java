package org.sockmap4j;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
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
 * Kernel-spliced TCP proxying (SK_SKB verdict, ingress to egress; Linux 5.13+ for skb_verdict,
 * 4.14+ with a stream parser): after a proxy has accepted a client, read what it needed and
 * connected upstream, {@link #splice} hands both sockets to the Splicer, which from then on moves
 * every byte each way. One Splicer serves many pairs (one map, one attached program, one watcher
 * thread).
 *
 * <h2>Relay, then kernel</h2>
 * Splicing costs a fixed amount per connection and pays off only for connections that live long
 * or move many bytes. By default ({@link SplicePolicy#always()}) a pair goes to the kernel at once;
 * with {@link SplicePolicy#auto()} a new pair is first relayed in user space by the
 * watcher thread (non-blocking, epoll) and handed to the kernel once it moved 64 KiB or lived
 * 100 ms, so short exchanges end while still relayed. {@code splice} itself only checks both
 * sockets (connected TCP, not already in a pair of this Splicer, refused before any data is
 * touched), writes what the proxy already read and registers the pair (under {@code always} it
 * also reads both queues to a segment boundary and enters the maps): it never blocks.
 *
 * <h2>The switch to the kernel</h2>
 * The kernel's verdict reader takes whole queued segments, ignoring how much of one was already
 * read, so a socket may enter the map only when its receive queue was read to empty and nothing
 * was read since, and every byte the relay read has been written on. The watcher waits for that
 * moment (a side whose peer does not read simply keeps its bytes pending, with TCP backpressure
 * on the sender, and the pair stays relayed meanwhile). Both sockets then enter the map that
 * redirects can reach before either enters the map whose verdict redirects, so no redirect ever
 * misses its target; finally each socket is nudged ({@code SO_RCVLOWAT}) so the verdict runs over
 * anything that arrived meanwhile. No byte is lost, repeated or reordered. A pair a side of which
 * has sent FIN (CLOSE_WAIT cannot enter a socket map), or that the maps cannot take (more than
 * {@link Builder#maxPairs} spliced at once), stays relayed to its end. Both sockets get
 * TCP_NODELAY (see {@link Builder#noDelay}).
 *
 * <h2>End of stream</h2>
 * The kernel does not forward FIN or RST. A relayed pair passes a FIN on as soon as everything
 * before it was written. For a spliced pair the watcher sees each side's end (EPOLLRDHUP), waits
 * until everything redirected towards the other side has been handed to that side's TCP (the
 * redirect backlog may still hold some: looked at again after 20 us, doubling up to 1 ms), then
 * shuts down the other side's output; when both directions have ended it closes both sockets. A
 * reset on one side resets the other. The pair's {@link SplicedPair#done()} then completes with
 * its byte counts, and {@link SplicedPair#timeline()} tells when each step happened. The Splicer
 * owns the sockets it splices: it closes them (channels through the channel).
 *
 * <p>Known limits of the kernel path are in docs/performance.md ("Proxying"): redirected data
 * towards a side whose peer does not read is queued by the kernel without backpressure; a single
 * spliced flow is sent by one kernel work item per direction.
 *
 * <p>Thread-safe. {@link #close()} closes every pair and detaches the program.
 */
public final class Splicer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("org.sockmap4j");
    private static final long DRAIN_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(60);
    private static final int BUF = 64 * 1024;
    private static final int BOUNDARY_BUF = 1 << 20;
    private static final long BOUNDARY_LIMIT = 4L << 20;
    /**
     * Bytes all pairs may hold at once read to a boundary for a switch whose source outpaces the
     * relay (each holds up to {@link #BOUNDARY_LIMIT} until written on).
     */
    private static final long BOUNDARY_BUDGET = 64L << 20;
    private static final long BUSY_TARGET_BYTES = 256 * 1024;
    private static final long FIRST_LOOK_NANOS = 20_000;
    private static final long LAST_LOOK_NANOS = 1_000_000;

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
    /** Relayed pairs in the order their age limit comes (the policy's age is the same for all). */
    private final java.util.Queue<Pair> byAge = new java.util.concurrent.ConcurrentLinkedQueue<>();
    /** Spliced pairs whose end of stream waits for the redirect backlog or the verdict. */
    private final java.util.Set<Pair> draining = ConcurrentHashMap.newKeySet();
    private final java.util.Queue<MemorySegment> buffers = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final AtomicLong spliced = new AtomicLong();
    private final SplicePolicy policy;
    private final int targetSendBuffer;
    /** readToBoundary's buffer (locked while in use). */
    private final MemorySegment boundaryBuf = Arena.ofAuto().allocate(BOUNDARY_BUF);
    private final AtomicLong boundaryHeld = new AtomicLong();
    /** Pairs a clean side of which waits for its target's send queue to drain: looked at again. */
    private final java.util.Set<Pair> busyWait = ConcurrentHashMap.newKeySet();
    private static final long BUSY_FIRST_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long BUSY_LAST_NANOS = TimeUnit.MILLISECONDS.toNanos(64);
    private volatile boolean mapsFullLogged;
    private static volatile boolean slowFdLookupLogged;
    private long closedPairs;
    private long closedC2u;
    private long closedU2c;
    private final boolean noDelay;
    private final long connectTimeoutNanos;
    private final int receiveBuffer;
    /** Pairs whose upstream was handed over connecting, in the order they were: their deadlines. */
    private final java.util.Queue<Pair> connecting = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final Framing framing;
    private volatile boolean closed;

    /**
     * Statistics of a Splicer: pairs open and ended, bytes each way (ended pairs plus open ones),
     * and how many pairs were handed to the kernel (the others were relayed to their end).
     */
    public record Stats(int pairsOpen, long pairsClosed, long clientToUpstream, long upstreamToClient,
            long pairsSpliced) {}

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

    private Splicer(int maxPairs, Framing framing, boolean noDelay, SplicePolicy policy, int targetSendBuffer,
            Duration connectTimeout, int receiveBuffer) {
        this.connectTimeoutNanos = connectTimeout.toNanos();
        this.receiveBuffer = receiveBuffer;
        this.noDelay = noDelay;
        this.targetSendBuffer = targetSendBuffer;
        this.policy = policy;
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
     * A Splicer for up to 10,000 concurrent spliced pairs, with skb_verdict framing (stream-parser
     * framing on kernels before 5.13) and the {@link SplicePolicy#always()} policy.
     */
    public static Splicer create() {
        return builder().create();
    }

    /** When this Splicer hands a pair to the kernel (see {@link Builder#policy}). */
    public SplicePolicy policy() {
        return policy;
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
        private SplicePolicy policy = SplicePolicy.always();
        private int targetSendBuffer = 4 << 20;
        private Duration connectTimeout = Duration.ofSeconds(10);
        private int receiveBuffer = 4 << 20;

        private Builder() {}

        /**
         * Receive buffer fixed on both sockets of each pair as it is handed over (default 4 MiB,
         * which the kernel doubles; SO_RCVBUFFORCE, else SO_RCVBUF within net.core.rmem_max; 0
         * leaves autotuning alone). Why: the skb_verdict reader ({@code tcp_read_skb}, Linux 6.0+)
         * hands the verdict whole queued segments, also one that a retransmission made start
         * before what was already received, so the overlap is redirected twice; on loopback the
         * redirected segments arrive reordered and TCP retransmits spuriously, more the larger the
         * windows. Under an echo load with autotuned buffers (tcp_rmem's maximum is 32 MB on the
         * machine measured) bytes repeated in 57 of 120 rounds; fixed at 4 MiB from the hand-over,
         * in 0 of 80 (docs/performance.md). A fixed buffer also stops autotuning from growing it
         * for long, fast remote paths: raise it there.
         */
        public Builder receiveBuffer(int bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("receiveBuffer must be >= 0, got " + bytes);
            }
            this.receiveBuffer = bytes;
            return this;
        }

        /**
         * How long an upstream handed over while its connect is still in progress (see
         * {@link Splicer#splice(SocketChannel, ByteBuffer, SocketChannel, ByteBuffer)}) may take
         * to connect (default 10 s); past it the pair ends {@link SplicedPair.End#RESET}.
         */
        public Builder connectTimeout(Duration timeout) {
            java.util.Objects.requireNonNull(timeout, "timeout");
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("connectTimeout must be > 0, got " + timeout);
            }
            this.connectTimeout = timeout;
            return this;
        }

        /**
         * When pairs move from the user-space relay into the kernel: {@link SplicePolicy#always()}
         * (the default: at once; best for bulk and CPU) or {@link SplicePolicy#auto()} (after
         * 64 KiB or 100 ms; best for short connections: see its Javadoc).
         */
        public Builder policy(SplicePolicy policy) {
            this.policy = java.util.Objects.requireNonNull(policy, "policy");
            return this;
        }

        /**
         * Whether {@code splice} turns TCP_NODELAY on for both sockets (default true): a proxy
         * should not delay what it forwards; with Nagle's algorithm on, the tail of each burst waits
         * for the previous one's ACK (40 ms with delayed ACKs were measured on 1 MiB round trips).
         */
        public Builder noDelay(boolean noDelay) {
            this.noDelay = noDelay;
            return this;
        }

        /**
         * Send buffer given to the socket a spliced direction sends out of when it is smaller
         * (default 4 MiB, which the kernel doubles; SO_SNDBUFFORCE, else SO_SNDBUF within
         * net.core.wmem_max; 0 leaves autotuning alone). The kernel's redirect work hands bytes to
         * that socket from one work item, which retries a full send buffer only a jiffy later: a
         * small buffer caps a single spliced flow near one buffer per jiffy (docs/performance.md).
         * It fills only when its reader is slower than the sender.
         */
        public Builder targetSendBuffer(int bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("targetSendBuffer must be >= 0, got " + bytes);
            }
            this.targetSendBuffer = bytes;
            return this;
        }

        /**
         * Concurrent spliced pairs the maps hold (default 10,000; each pair takes two sockets);
         * pairs beyond it stay relayed in user space.
         */
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
            return new Splicer(maxPairs, framing == null ? Framing.kernelDefault() : framing, noDelay, policy,
                    targetSendBuffer, connectTimeout, receiveBuffer);
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
     * upstream); either may be null. The Splicer owns (and will close) both channels. Never
     * blocks: what a side cannot take at once is written by the watcher.
     *
     * <p>The upstream may still be connecting (a non-blocking {@link SocketChannel#connect} that
     * returned false, TCP SYN_SENT): the watcher then waits for the connect's outcome, reading
     * nothing from the client meanwhile (its bytes wait in its socket). Connected, the pair runs
     * as if handed over then; refused, unreachable or not connected within
     * {@link Builder#connectTimeout} (default 10 s), the pair ends {@link SplicedPair.End#RESET},
     * resetting the client. A proxy's accepting thread can so connect and hand over without
     * waiting for the upstream's handshake.
     *
     * @throws UnsupportedSocketException if either is not an established TCP socket, or the
     *         upstream one being connected (nothing was touched: the caller keeps both)
     * @throws IllegalArgumentException if both are the same socket or either is already spliced
     *         (nothing was touched)
     * @throws IllegalStateException if the Splicer is closed (nothing was touched)
     */
    public SplicedPair splice(SocketChannel client, ByteBuffer toUpstream, SocketChannel upstream, ByteBuffer toClient) {
        java.util.Objects.requireNonNull(client, "client");
        java.util.Objects.requireNonNull(upstream, "upstream");
        long t0 = System.nanoTime();
        if (!ChannelFds.fastPathEnabled() && !slowFdLookupLogged) {
            slowFdLookupLogged = true;
            LOG.log(System.Logger.Level.DEBUG, "sockmap4j: the Splicer finds each channel's fd by scanning"
                    + " /proc/self/fd (100-150 us per channel measured, more with more open fds): run with --add-exports"
                    + " java.base/sun.nio.ch=org.sockmap4j (ALL-UNNAMED on the class path) to read it from the JDK,"
                    + " or splice raw fds (logged once, at DEBUG: a library does not write to stderr unasked)");
        }
        int c = ChannelFds.fdOf(client);
        int u = ChannelFds.fdOf(upstream);
        return register(t0, c, client, toUpstream, u, upstream, toClient);
    }

    /**
     * Splices two connected TCP sockets given as raw fds; the Splicer takes ownership of both fds
     * and closes them when the pair ends.
     */
    public SplicedPair splice(int clientFd, int upstreamFd) {
        return register(System.nanoTime(), clientFd, null, null, upstreamFd, null, null);
    }

    /**
     * Splices two connected TCP sockets given as raw fds after writing the bytes the proxy already
     * read and has not forwarded (either buffer may be null); the Splicer takes ownership of both
     * fds. Errors as for {@link #splice(SocketChannel, ByteBuffer, SocketChannel, ByteBuffer)}.
     */
    public SplicedPair splice(int clientFd, ByteBuffer toUpstream, int upstreamFd, ByteBuffer toClient) {
        return register(System.nanoTime(), clientFd, null, toUpstream, upstreamFd, null, toClient);
    }

    private SplicedPair register(long t0, int cFd, SocketChannel cCh, ByteBuffer toUpstream, int uFd,
            SocketChannel uCh, ByteBuffer toClient) {
        if (closed) {
            throw new IllegalStateException("the Splicer is closed");
        }
        if (cFd == uFd) {
            throw new IllegalArgumentException("client and upstream are the same socket (fd " + cFd + ")");
        }
        SpliceSockets.checkSpliceable(cFd, "client");
        boolean upstreamConnecting = SpliceSockets.checkSpliceable(uFd, "upstream", true)
                == SpliceSockets.TCP_SYN_SENT;
        long cCookie = Sockets.cookie(cFd);
        long uCookie = Sockets.cookie(uFd);
        if (cCookie == uCookie) {
            throw new IllegalArgumentException("client and upstream are the same socket (cookie " + cCookie + ")");
        }
        long id = ids.incrementAndGet();
        Pair p = new Pair(id, new Side(cFd, cCh, cCookie), new Side(uFd, uCh, uCookie), new SplicedPair(this, id), t0);
        p.connecting = upstreamConnecting;
        reserve(p);
        MemorySegment buf = null;
        synchronized (p) {
            try {
                if (noDelay) {
                    SpliceSockets.noDelay(cFd);
                    SpliceSockets.noDelay(uFd);
                }
                if (receiveBuffer > 0) {
                    // from the hand-over, not from the switch: TCP never shrinks a window it
                    // advertised, and a relayed pair's autotuned windows grow large (0 of 80
                    // rounds repeated bytes set here, 13 of 120 set at the switch)
                    SpliceSockets.receiveBuffer(cFd, receiveBuffer);
                    SpliceSockets.receiveBuffer(uFd, receiveBuffer);
                }
                p.client.preload(toUpstream);
                p.upstream.preload(toClient);
                pairs.put(id, p);
                if (!p.connecting) {
                    flush(p, p.client, p.upstream);
                }
                flush(p, p.upstream, p.client);
                if (p.connecting) {
                    connecting.add(p);
                } else if (policy.immediate() && !p.ended) {
                    p.want = true;
                    buf = borrow();
                    trySwitch(p, buf);
                }
                if (!p.ended) {
                    watch(p);
                }
            } catch (RuntimeException e) {
                end(p, SplicedPair.End.RESET);
                throw e;
            } finally {
                if (buf != null) {
                    buffers.add(buf);
                }
                p.spliceCallNanos = System.nanoTime() - t0;
            }
        }
        if (!policy.immediate()) {
            // no wake-up call (an eventfd write and read per pair): the watcher never sleeps
            // longer than the policy's age (see maxSleepNanos), so it looks at byAge by wantAt
            p.wantAt = t0 + policy.age().toNanos();
            byAge.add(p);
        }
        return p.handle;
    }

    private MemorySegment borrow() {
        MemorySegment b = buffers.poll();
        return b != null ? b : Arena.ofAuto().allocate(BUF);
    }

    // ---- the relay ----

    /**
     * Reads {@code from} and writes what it read to {@code to}, until a read empties the queue
     * (it says EAGAIN or does not fill the buffer: tcp_recvmsg stops short only when nothing is
     * left), {@code to} cannot take more (the rest waits in {@code from}'s pending bytes, and
     * {@code from} is not read until they are written), {@code from} ends, 16 reads were made or
     * the policy came to want the pair spliced.
     */
    private void pump(Pair p, Side from, Side to, MemorySegment buf) {
        boolean wanted = p.want;
        // a bounded number of reads: other pairs get their turn, and a pair the policy now wants
        // spliced tries the switch at once (epoll is level-triggered: the rest wakes us again)
        for (int reads = 0; reads < 16 && !p.ended && !from.eof && !from.hasPending(); reads++) {
            if (p.want != wanted) {
                return;
            }
            long r = Libc.recv(from.fd, buf, Libc.MSG_DONTWAIT);
            if (r == -Errno.EAGAIN.code()) {
                from.clean = true;
                return;
            }
            if (r == -Errno.EINTR.code()) {
                continue;
            }
            if (r < 0) {
                endOnError(p, from, (int) -r);
                return;
            }
            if (r == 0) {
                sawEnd(p, from, to);
                return;
            }
            // a read that did not fill the buffer emptied the queue: it ended at a segment
            // boundary, with nothing partly read, which is all the verdict reader needs
            from.clean = r < buf.byteSize();
            from.handedOff += r;
            if (!p.live && (p.relayed += r) >= policy.bytes()) {
                p.want = true;
            }
            long w = Libc.send(to.fd, buf.asSlice(0, r), Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT);
            if (w == -Errno.EAGAIN.code() || w == -Errno.EINTR.code()) {
                w = 0;
            } else if (w < 0) {
                endOnError(p, to, (int) -w);
                return;
            }
            if (w < r) {
                from.keep(buf.asSlice(w, r - w));
                return;
            }
            if (from.clean) {
                return; // epoll is level-triggered: more data wakes the watcher again
            }
        }
    }

    /** Writes {@code from}'s pending bytes to {@code to}, as far as it takes them. */
    private void flush(Pair p, Side from, Side to) {
        while (from.hasPending() && !p.ended) {
            long w = Libc.send(to.fd, from.pending.asSlice(from.pendOff, from.pendLen - from.pendOff),
                    Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT);
            if (w == -Errno.EAGAIN.code()) {
                return;
            }
            if (w == -Errno.EINTR.code()) {
                continue;
            }
            if (w < 0) {
                endOnError(p, to, (int) -w);
                return;
            }
            from.pendOff += w;
        }
        if (!from.hasPending()) {
            from.pending = null;
            from.pendOff = from.pendLen = 0;
            releaseBoundary(from);
            if (from.eof && !p.ended) {
                passEnd(p, from, to);
            }
        }
    }

    /** {@code from} sent FIN. */
    private void sawEnd(Pair p, Side from, Side to) {
        from.eof = true;
        from.eofAt = System.nanoTime();
        from.finBeforeVerdictAt = 0;
        passEnd(p, from, to);
    }

    /** Passes {@code from}'s FIN on to {@code to} once it may, and ends the pair when both ended. */
    private void passEnd(Pair p, Side from, Side to) {
        if (!from.spliced && !from.hasPending() && !to.shutdownSent) {
            shutdown(to); // a relayed direction: everything before the FIN was written already
        }
        progress(p);
    }

    private static void shutdown(Side to) {
        Libc.shutdown(to.fd, Libc.SHUT_WR);
        to.shutdownSent = true;
        to.shutdownAt = System.nanoTime();
    }

    // ---- the switch to the kernel ----

    /**
     * Hands what it can of a relayed pair to the kernel: both sockets enter {@code targets}
     * (neither may have ended: a socket in CLOSE_WAIT cannot enter a socket map), then each
     * direction separately enters {@code socks} once its source was read to empty with nothing
     * read since and everything read from it was written on. Directions switch one at a time
     * because with both peers streaming, both directions are seldom clean at the same moment.
     */
    private void trySwitch(Pair p, MemorySegment buf) {
        if (!p.want || p.ended || p.stayRelayed) {
            return;
        }
        p.tries++;
        if (!p.live) {
            if (p.client.eof || p.upstream.eof || !enterTargets(p)) {
                p.stayRelayed = true;
                unclamp(p.client);
                unclamp(p.upstream);
                return;
            }
        }
        switchDirection(p, p.upstream, p.client, buf);
        switchDirection(p, p.client, p.upstream, buf);
    }

    /** Both sockets become redirect targets; false (and nothing left in the maps) if refused. */
    private boolean enterTargets(Pair p) {
        // what each reader consumed, read now: once a socket has a psock, FIONREAD counts only the
        // psock's own queue (6.10+), and consumedByReader would count queued bytes as consumed
        for (Side s : new Side[] {p.client, p.upstream}) {
            s.consumedAtTargets = TcpQueues.consumedByReader(s.fd);
            s.handedOffAtTargets = s.handedOff;
        }
        boolean in;
        try {
            peers.put(p.client.cookie, p.upstream.cookie);
            peers.put(p.upstream.cookie, p.client.cookie);
            in = insert(targets, p.client) && insert(targets, p.upstream);
        } catch (RuntimeException e) {
            if (!mapsFullLogged) {
                mapsFullLogged = true;
                LOG.log(System.Logger.Level.WARNING, "sockmap4j: a pair could not enter the splice maps ({0}); such "
                        + "pairs stay relayed in user space (logged once)", e.getMessage());
            }
            in = false;
        }
        if (!in) {
            unmap(p); // nothing was redirected yet
        }
        p.live = in;
        return in;
    }

    /** Puts {@code s} in {@code socks} if it is clean with nothing pending: from then on its verdict redirects. */
    private void switchDirection(Pair p, Side s, Side o, MemorySegment buf) {
        if (p.ended || s.spliced || s.refused || s.eof || s.hasPending()) {
            return;
        }
        if (!s.clean) {
            pump(p, s, o, buf);
            // still not clean: the source outpaces the relay. Its target full (bytes pending):
            // read it to a boundary in large reads. Its target keeping up, after more than
            // BOUNDARY_LIMIT relayed since the pair entered the maps (a burst ends first): the same
            boolean outpaced = s.handedOff - s.handedOffAtTargets > BOUNDARY_LIMIT;
            if (!p.ended && !s.clean && !s.eof
                    && (s.hasPending() || outpaced && boundaryHeld.get() < BOUNDARY_BUDGET)) {
                readToBoundary(p, s, o, s.clampSaved >= 0 ? clampedDrainLimit(s) : BOUNDARY_LIMIT);
            }
            if (!p.ended && !s.clean && !s.eof && s.clampSaved < 0 && outpaced) {
                // a sender faster than even large reads (iperf3 with a fast receiver was relayed
                // to its end: every drain reopened the window and it refilled the queue): clamp
                // the window so that the sender stops at what it was already allowed to send,
                // drain that, and give the window back once the verdict reads the socket
                s.clampSaved = SpliceSockets.windowClamp(s.fd);
                if (s.clampSaved > 0) {
                    SpliceSockets.setWindowClamp(s.fd, 1);
                    if (!s.hasPending() && boundaryHeld.get() < BOUNDARY_BUDGET) {
                        readToBoundary(p, s, o, clampedDrainLimit(s));
                    }
                } else {
                    s.clampSaved = -1;
                }
            }
            if (p.ended || !s.clean || s.hasPending() || s.eof) {
                return; // when the pending bytes were written (EPOLLOUT), s unread since
            }
        }
        // a target still working off a backed-up send queue is not keeping up: keep relaying
        // (the relay holds the sender back through TCP; the kernel's redirect queue would not)
        // and look again on a later event
        long unacked = TcpQueues.unacked(o.fd);
        s.targetBusy = unacked > BUSY_TARGET_BYTES;
        if (s.targetBusy) {
            recheckSoon(p);
            return;
        }
        if (targetSendBuffer > 0) {
            SpliceSockets.sendBufferAtLeast(o.fd, targetSendBuffer);
        }
        o.handedBase = TcpQueues.handedToTcp(o.fd);
        received(s);
        try {
            if (!insert(socks, s)) {
                s.refused = true; // FIN meanwhile: this direction stays relayed
                unclamp(s);
                return;
            }
        } catch (RuntimeException e) {
            s.refused = true;
            unclamp(s);
            LOG.log(System.Logger.Level.DEBUG, "sockmap4j: pair {0}: the {1} stays relayed ({2})", p.id,
                    s == p.client ? "client" : "upstream", e.getMessage());
            return;
        }
        if (p.liveAt == 0) {
            p.liveAt = System.nanoTime();
            spliced.incrementAndGet();
        }
        unclamp(s); // the verdict reads it now: the window opens as it does
        SpliceSockets.kick(s.fd);
        if (LOG.isLoggable(System.Logger.Level.DEBUG)) {
            LOG.log(System.Logger.Level.DEBUG, "sockmap4j: pair {0}: the {1}''s bytes go through the kernel now"
                    + " ({2} relayed before)", p.id, s == p.client ? "client" : "upstream", s.handedOff);
        }
    }

    /**
     * A source that streams faster than its target takes is never found clean by the relay: each
     * read fills the buffer and leaves the rest of a segment queued. To switch it anyway, read
     * what is queued in large reads until one comes back short (nothing partly read), keeping it
     * all as pending bytes (at most {@link #BOUNDARY_LIMIT}; the sender is held back by TCP
     * meanwhile), then leave the socket unread until they are written: it is then clean.
     */
    private void readToBoundary(Pair p, Side s, Side o, long limit) {
        synchronized (boundaryBuf) { // the watcher's and a caller's pairs may switch at the same time
            readToBoundary(p, s, o, boundaryBuf, limit);
        }
    }

    private void readToBoundary(Pair p, Side s, Side o, MemorySegment big, long limit) {
        long total = s.pendLen - s.pendOff;
        java.util.List<MemorySegment> parts = new ArrayList<>();
        while (total < limit) {
            long r = Libc.recv(s.fd, big, Libc.MSG_DONTWAIT);
            if (r == -Errno.EINTR.code()) {
                continue;
            }
            if (r == -Errno.EAGAIN.code()) {
                s.clean = true;
                break;
            }
            if (r < 0) {
                endOnError(p, s, (int) -r);
                return;
            }
            if (r == 0) {
                s.eof = true; // passed on once the pending bytes are written (flush)
                s.eofAt = System.nanoTime();
                break;
            }
            MemorySegment part = Arena.ofAuto().allocate(r);
            MemorySegment.copy(big, 0, part, 0, r);
            parts.add(part);
            total += r;
            s.handedOff += r;
            if (r < big.byteSize()) {
                s.clean = true;
                break;
            }
        }
        if (!parts.isEmpty()) {
            MemorySegment all = Arena.ofAuto().allocate(total);
            long off = s.pendLen - s.pendOff;
            if (off > 0) {
                MemorySegment.copy(s.pending, s.pendOff, all, 0, off);
            }
            for (MemorySegment part : parts) {
                MemorySegment.copy(part, 0, all, off, part.byteSize());
                off += part.byteSize();
            }
            s.pending = all;
            s.pendOff = 0;
            s.pendLen = total;
            boundaryHeld.addAndGet(total - s.boundaryBytes);
            s.boundaryBytes = total;
        }
        flush(p, s, o);
    }

    /**
     * How far a clamped source is drained: its whole receive buffer (the sender can fill no more
     * than that), at least {@link #BOUNDARY_LIMIT}.
     */
    private static long clampedDrainLimit(Side s) {
        return Math.max(BOUNDARY_LIMIT, SpliceSockets.receiveBufferOf(s.fd));
    }

    /** Gives a side back the window clamp it had before its switch clamped it. */
    private static void unclamp(Side s) {
        if (s.clampSaved > 0) {
            SpliceSockets.setWindowClamp(s.fd, s.clampSaved);
        }
        s.clampSaved = -1;
    }

    /** Has the watcher try {@code p}'s switch again shortly (1 ms, backing off to 64 ms). */
    private void recheckSoon(Pair p) {
        if (busyWait.add(p)) {
            p.busyBackoff = BUSY_FIRST_NANOS;
            p.busyCheckAt = System.nanoTime() + BUSY_FIRST_NANOS;
        }
    }

    /** Gives back to the budget what a side held read to a boundary. */
    private void releaseBoundary(Side s) {
        if (s.boundaryBytes != 0) {
            boundaryHeld.addAndGet(-s.boundaryBytes);
            s.boundaryBytes = 0;
        }
    }

    /** Where a side's received and user-space byte counts stand as the verdict takes over. */
    private static void received(Side s) {
        // what the reader consumed, not what TCP received: bytes arriving after the relay's
        // last read are the verdict's to judge (and count), so they must be after the base. The
        // socket is a redirect target already (FIONREAD no longer tells): consumed when it became
        // one, plus what the relay has read from it since
        s.receivedBase = s.consumedAtTargets >= 0 ? s.consumedAtTargets + (s.handedOff - s.handedOffAtTargets)
                : TcpQueues.receivedByTcp(s.fd);
        s.handedOffBase = s.handedOff;
    }

    /**
     * Inserts a side; false if the kernel refused it because its peer has just closed (the TCP
     * state left ESTABLISHED meanwhile).
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

    /** Registers both sides with epoll, or updates what each is watched for. */
    private void watch(Pair p) {
        if (p.connecting) {
            // the upstream for its connect's outcome (writable, or an error); the client for
            // errors only: what it sends waits in its socket (flow-controlled) until then
            watchMask(p, p.client, Epoll.EPOLLET, p.id << 1);
            watchMask(p, p.upstream, Epoll.EPOLLOUT, p.id << 1 | 1);
            return;
        }
        watch(p, p.client, p.upstream, p.id << 1);
        watch(p, p.upstream, p.client, p.id << 1 | 1);
    }

    /**
     * A relayed side is watched for data unless its bytes wait to be written; a spliced side for
     * its end only (EPOLLRDHUP: the psock wakes EPOLLIN waiters for every skb it redirects); a
     * side the other's pending bytes wait for, for room (EPOLLOUT); a side that ended, for errors
     * only (edge-triggered).
     */
    private void watch(Pair p, Side s, Side o, long data) {
        int mask;
        if (s.finBeforeVerdictAt != 0) {
            mask = Epoll.EPOLLET | Epoll.EPOLLRDHUP;
        } else {
            mask = 0;
            if (!s.eof) {
                mask |= s.spliced ? Epoll.EPOLLRDHUP : s.hasPending() || holding(p, s, o) ? 0 : Epoll.EPOLLIN;
            }
            if (o.hasPending()) {
                mask |= Epoll.EPOLLOUT;
            }
            if (mask == 0) {
                mask = Epoll.EPOLLET;
            }
        }
        watchMask(p, s, mask, data);
    }

    private void watchMask(Pair p, Side s, int mask, long data) {
        if (mask == s.mask) {
            return;
        }
        int r = s.mask == -1 ? epoll.add(s.fd, mask, data) : epoll.modify(s.fd, mask, data);
        if (r < 0) {
            throw Errors.of("epoll_ctl", "spliced pair " + p.id, -r, Errors.Op.GENERIC);
        }
        s.mask = mask;
    }

    /**
     * Whether the relay leaves {@code s} unread for now: the pair is to be spliced, {@code s} was
     * read to empty, and nothing waits to be written to it. Reading it again would only put off
     * the moment both sides are clean at once (with both peers streaming, that moment may never
     * come otherwise); a side the other's bytes wait for is read, since its peer may be blocked
     * writing and not read before it can write again (an echo). A side whose target is still
     * working off a backed-up send queue is read (holding it stalled an echo whose client writes
     * everything before it reads); the watcher tries the switch again ({@link #recheckBusy}).
     */
    private static boolean holding(Pair p, Side s, Side o) {
        return p.want && !s.spliced && !s.refused && !p.stayRelayed && !s.targetBusy && s.clean && !o.hasPending();
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
        long consumedAtTargets = -1; // bytes its reader had consumed when it entered targets
        long handedOffAtTargets; // handedOff then
        boolean spliced;      // in socks: the verdict redirects what it receives
        volatile long handedOff; // bytes moved in user space: relayed or passed by the verdict
        boolean eof;          // this side sent FIN
        boolean shutdownSent; // we shut down this side's output
        long eofAt;
        long shutdownAt;
        long finBeforeVerdictAt; // when its FIN was seen before the verdict judged every byte (0: not)
        boolean refused;      // the kernel refused it in socks: its direction stays relayed
        boolean targetBusy;   // its switch waits for the other side's send queue to drain
        int clampSaved = -1;  // TCP_WINDOW_CLAMP before the switch clamped it (-1: not clamped)
        boolean clean;        // the last read found the receive queue empty, and nothing was read since
        MemorySegment pending; // read from this side, not yet written to the other
        long boundaryBytes;   // of which read to a boundary (counted in boundaryHeld)
        long pendOff;
        long pendLen;
        int mask = -1;        // what epoll watches it for (-1: not registered)

        Side(int fd, SocketChannel channel, long cookie) {
            this.fd = fd;
            this.channel = channel;
            this.cookie = cookie;
        }

        boolean hasPending() {
            return pendOff < pendLen;
        }

        /** Keeps {@code rest} to write later (the other side took only part of it). */
        void keep(MemorySegment rest) {
            pending = Arena.ofAuto().allocate(rest.byteSize());
            MemorySegment.copy(rest, 0, pending, 0, rest.byteSize());
            pendOff = 0;
            pendLen = rest.byteSize();
        }

        /** The proxy's bytes read before the splice, written first. */
        void preload(ByteBuffer b) {
            if (b != null && b.hasRemaining()) {
                keep(MemorySegment.ofBuffer(b));
                b.position(b.limit());
            }
        }
    }

    private static final class Pair {
        final long id;
        final Side client;
        final Side upstream;
        final SplicedPair handle;
        final long startedAt;
        long spliceCallNanos = -1;
        long connectedAt;     // when a connecting upstream connected (0: handed over connected)
        volatile boolean live; // in targets: a direction whose source is in socks is moved by the kernel
        long liveAt;          // when the first direction went to the kernel
        boolean want;         // the policy says splice as soon as the queues allow
        long wantAt;          // when the policy's age limit comes
        boolean stayRelayed;  // a side ended or the maps refused: relayed to the end
        boolean connecting;   // the upstream's connect is in progress: nothing is read from the client yet
        long relayed;         // bytes relayed before the switch
        int tries;            // switch attempts
        long busyCheckAt;     // when to look at a busy target again (busyWait)
        long busyBackoff;     // the wait before that, doubling from 1 ms to 64 ms
        boolean ended;
        long endedAt;

        Pair(long id, Side client, Side upstream, SplicedPair handle, long startedAt) {
            this.id = id;
            this.client = client;
            this.upstream = upstream;
            this.handle = handle;
            this.startedAt = startedAt;
        }
    }

    /**
     * The longest the watcher sleeps: a second, or under a relay-first policy its age (at least a
     * millisecond), so that a pair registered while it sleeps is looked at by its wantAt.
     */
    private long maxSleepNanos() {
        long second = TimeUnit.SECONDS.toNanos(1);
        return policy.immediate() ? second
                : Math.min(second, Math.max(TimeUnit.MILLISECONDS.toNanos(1), policy.age().toNanos()));
    }

    private void watch() {
        long maxSleepNanos = maxSleepNanos();
        long look = 0; // the next look at draining pairs, nanoseconds (0: none draining)
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(BUF);
            while (!closed) {
                long timeout = maxSleepNanos;
                Pair head = byAge.peek();
                if (head != null) {
                    timeout = Math.max(0, Math.min(timeout, head.wantAt - System.nanoTime()));
                }
                if (!busyWait.isEmpty()) {
                    timeout = Math.min(timeout, BUSY_FIRST_NANOS);
                }
                if (!connecting.isEmpty()) {
                    long now = System.nanoTime();
                    long next = expireConnects(now);
                    if (next != 0) {
                        timeout = Math.max(0, Math.min(timeout, next - now));
                    }
                }
                if (draining.isEmpty()) {
                    look = 0;
                } else {
                    look = look == 0 ? FIRST_LOOK_NANOS : Math.min(LAST_LOOK_NANOS, look * 2);
                    timeout = Math.min(timeout, look);
                }
                int n = timeout % 1_000_000 == 0 ? epoll.await((int) (timeout / 1_000_000))
                        : epoll.awaitNanos(timeout);
                for (int i = 0; i < n; i++) {
                    long data = epoll.data(i);
                    if (data == -1) {
                        epoll.clearWakeUp();
                        continue;
                    }
                    Pair p = pairs.get(data >>> 1);
                    if (p != null) {
                        int before = draining.size();
                        onEvent(p, (data & 1) == 0, epoll.mask(i), buf);
                        if (draining.size() > before) {
                            look = 0; // a new pair drains: look again soon
                        }
                    }
                }
                ripen(buf);
                if (!busyWait.isEmpty()) {
                    recheckBusy(buf);
                }
                if (!draining.isEmpty()) {
                    for (Pair p : draining) {
                        synchronized (p) {
                            if (!p.ended && p.client.finBeforeVerdictAt != 0) {
                                onEvent(p, true, Epoll.EPOLLRDHUP, buf);
                            }
                            if (!p.ended && p.upstream.finBeforeVerdictAt != 0) {
                                onEvent(p, false, Epoll.EPOLLRDHUP, buf);
                            }
                            progress(p);
                            if (p.ended || !needsPolling(p)) {
                                draining.remove(p);
                            }
                        }
                    }
                }
            }
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.ERROR, "sockmap4j: the Splicer's watcher failed", t);
        }
    }

    /**
     * Pairs a clean side of which is held while its target's send queue drains: tries the switch
     * again once the pair's wait has passed (1 ms, doubling up to 64 ms while still busy).
     */
    private void recheckBusy(MemorySegment buf) {
        long now = System.nanoTime();
        for (Pair p : busyWait) {
            if (p.busyCheckAt - now > 0) {
                continue;
            }
            synchronized (p) {
                p.client.targetBusy = p.upstream.targetBusy = false;
                if (!p.ended) {
                    trySwitch(p, buf);
                }
                if (p.ended || !waiting(p.client) && !waiting(p.upstream)) {
                    busyWait.remove(p);
                    if (!p.ended) {
                        watch(p); // a side no longer held is read again
                    }
                } else {
                    p.busyBackoff = Math.min(BUSY_LAST_NANOS, p.busyBackoff * 2);
                    p.busyCheckAt = now + p.busyBackoff;
                    watch(p);
                }
            }
        }
    }

    private static boolean waiting(Side s) {
        return !s.spliced && s.targetBusy;
    }

    /** Pairs whose age limit came: splice them as soon as their queues allow. */
    private void ripen(MemorySegment buf) {
        long now = System.nanoTime();
        for (Pair p = byAge.peek(); p != null; p = byAge.peek()) {
            if (!p.ended && !p.live && !p.stayRelayed && p.wantAt - now > 0) {
                return;
            }
            byAge.poll();
            synchronized (p) {
                if (!p.ended && !p.live && !p.stayRelayed) {
                    p.want = true;
                    trySwitch(p, buf);
                    if (!p.ended) {
                        watch(p);
                    }
                }
            }
        }
    }

    /**
     * Whether the watcher must look at the pair again soon, as no event will tell it: a side's FIN
     * waits for the redirect backlog to drain before it is passed on, or came before the verdict
     * judged every byte ahead of it ({@link #verdictBehind}).
     */
    private static boolean needsPolling(Pair p) {
        return pendingShutdown(p.client, p.upstream) || pendingShutdown(p.upstream, p.client)
                || p.client.finBeforeVerdictAt != 0 || p.upstream.finBeforeVerdictAt != 0;
    }

    private static boolean pendingShutdown(Side from, Side to) {
        return from.eof && !to.shutdownSent;
    }

    /**
     * The upstream of a connecting pair was writable or failed: its connect ended. Failed (the
     * socket's error, e.g. ECONNREFUSED): the pair ends RESET, resetting the client. Connected:
     * the proxy's bytes for the upstream are written and the pair runs as if handed over now.
     */
    private void connected(Pair p, MemorySegment buf) {
        // tcp_poll reports neither EPOLLOUT nor an error while SYN_SENT: the connect has ended
        int err = SpliceSockets.pendingError(p.upstream.fd);
        p.connecting = false;
        p.connectedAt = System.nanoTime();
        if (err != 0) {
            LOG.log(System.Logger.Level.DEBUG, "sockmap4j: pair {0}: the upstream did not connect (errno {1});"
                    + " resetting the client", p.id, err);
            end(p, SplicedPair.End.RESET);
            return;
        }
        flush(p, p.client, p.upstream);
        if (!p.ended && policy.immediate()) {
            p.want = true;
            trySwitch(p, buf);
        }
    }

    /** Ends pairs whose upstream has been connecting longer than the connect timeout; the next deadline (0: none). */
    private long expireConnects(long now) {
        for (Pair p = connecting.peek(); p != null; p = connecting.peek()) {
            if (p.connecting && !p.ended) {
                long deadline = p.startedAt + connectTimeoutNanos;
                if (deadline - now > 0) {
                    return deadline;
                }
                synchronized (p) {
                    if (p.connecting && !p.ended) {
                        LOG.log(System.Logger.Level.DEBUG, "sockmap4j: pair {0}: the upstream did not connect in {1} ms;"
                                + " resetting both", p.id, TimeUnit.NANOSECONDS.toMillis(connectTimeoutNanos));
                        end(p, SplicedPair.End.RESET);
                    }
                }
            }
            connecting.poll();
        }
        return 0;
    }

    /** One side has an event: readable (data, EOF, an error), writable, or failed. */
    private void onEvent(Pair p, boolean clientSide, int events, MemorySegment buf) {
        synchronized (p) {
            if (p.ended) {
                return;
            }
            if (p.connecting) {
                if (!clientSide) {
                    connected(p, buf);
                } else if ((events & (Epoll.EPOLLERR | Epoll.EPOLLHUP)) != 0) {
                    end(p, SplicedPair.End.RESET); // the client reset while the upstream connected
                }
                if (!p.ended) {
                    watch(p);
                }
                return;
            }
            Side from = clientSide ? p.client : p.upstream;
            Side to = clientSide ? p.upstream : p.client;
            if ((events & Epoll.EPOLLOUT) != 0 && to.hasPending()) {
                flush(p, to, from);
            }
            if (!p.ended && (events & ~Epoll.EPOLLOUT) != 0) {
                if (from.eof) { // watched for errors only (edge-triggered): a reset after its FIN
                    int err = SpliceSockets.pendingError(from.fd);
                    if (err != 0) {
                        endOnError(p, from, err);
                    }
                } else if (from.spliced && !p.stayRelayed && verdictBehind(p, from, clientSide)) {
                    // looked at again while draining
                } else if (!holding(p, from, to)) {
                    pump(p, from, to, buf);
                }
            }
            if (!p.ended && p.want && !(p.client.spliced && p.upstream.spliced)) {
                trySwitch(p, buf);
            }
            if (!p.ended) {
                watch(p);
            }
        }
    }

    /**
     * Whether a spliced side's FIN (or reset) arrived before the verdict judged every byte ahead
     * of it, in which case the watcher must not recv() yet: while the psock's own queue is empty,
     * recv() reads the socket's receive queue directly (tcp_bpf_recvmsg falls back to
     * tcp_recvmsg), so bytes a stream parser has not reached yet (5.10: its work runs on a
     * workqueue whenever the socket was locked) would be forwarded by the watcher ahead of bytes
     * the verdict already redirected but the target has not sent yet. The side is then looked at
     * again shortly (edge-triggered, see {@link #watch()}) until the verdict caught up, its
     * socket failed (reset), or {@link #DRAIN_TIMEOUT_NANOS} passed (both sides reset).
     */
    private boolean verdictBehind(Pair p, Side from, boolean clientSide) {
        if (!from.spliced || !unprocessed(from, Math.max(0, peers.bytes(from.cookie)))) {
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
            draining.add(p);
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
        if (p.live && errno == Errno.EPIPE.code() && SpliceSockets.tcpState(s.fd) != SpliceSockets.TCP_CLOSE) {
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
        if (!from.eof || to.shutdownSent || !from.spliced || from.hasPending()) {
            return true; // a relayed direction passes its FIN on in passEnd
        }
        long redirected = Math.max(0, peers.bytes(from.cookie));
        long handed = TcpQueues.handedToTcp(to.fd);
        // what the other side's TCP must have taken before its FIN: every redirected byte, and
        // every byte of this direction the watcher forwarded itself since the switch
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
            draining.add(p);
            return true; // still in the redirect backlog: look again shortly
        }
        if (LOG.isLoggable(System.Logger.Level.DEBUG)) {
            LOG.log(System.Logger.Level.DEBUG, "sockmap4j: pair {0}: FIN on to the {1}: received since the switch {2},"
                    + " redirected {3}, forwarded {4}; the {1} took {5} of {6}", p.id,
                    to == p.client ? "client" : "upstream",
                    from.receivedBase < 0 ? "?" : TcpQueues.receivedByTcp(from.fd) - 1 - from.receivedBase, redirected,
                    from.handedOff - from.handedOffBase, handed - to.handedBase, owed);
        }
        shutdown(to);
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
        return bytes(p, clientToUpstream ? p.client : p.upstream);
    }

    /** Bytes received on {@code s} and sent out of the other side: relayed plus redirected. */
    private long bytes(Pair p, Side s) {
        // a pair that never entered the maps has no peers entries: no lookup (a syscall) needed
        return s.handedOff + (p.live ? Math.max(0, peers.bytes(s.cookie)) : 0);
    }

    /** When each step of a pair happened so far. */
    SplicedPair.Timeline timeline(long id, SplicedPair.Timeline ifEnded) {
        Pair p = pairs.get(id);
        if (p == null) {
            return ifEnded;
        }
        synchronized (p) {
            return timeline(p);
        }
    }

    private static SplicedPair.Timeline timeline(Pair p) {
        long t0 = p.startedAt;
        return new SplicedPair.Timeline(p.spliceCallNanos, since(t0, p.liveAt), since(t0, p.client.eofAt),
                since(t0, p.upstream.eofAt), since(t0, p.upstream.shutdownAt), since(t0, p.client.shutdownAt),
                p.ended ? p.endedAt - t0 : -1);
    }

    private static long since(long t0, long t) {
        return t == 0 ? -1 : t - t0;
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
        long c2u = bytes(p, p.client);
        long u2c = bytes(p, p.upstream);
        if (p.client.mask != -1) {
            epoll.remove(p.client.fd);
        }
        if (p.upstream.mask != -1) {
            epoll.remove(p.upstream.fd);
        }
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
        draining.remove(p);
        busyWait.remove(p);
        if (p.live) {
            unmap(p); // after: stats() of an open pair reads its counts from the peers entries
        }
        close(p.client);
        close(p.upstream);
        release(p);
        p.client.pending = null;
        p.upstream.pending = null;
        releaseBoundary(p.client);
        releaseBoundary(p.upstream);
        p.endedAt = System.nanoTime();
        if (p.liveAt == 0 && LOG.isLoggable(System.Logger.Level.DEBUG)) {
            LOG.log(System.Logger.Level.DEBUG, "sockmap4j: pair {0} ended relayed: want {1}, tries {2}, in targets {3},"
                    + " stay relayed {4}, relayed {5}", p.id, p.want, p.tries, p.live, p.stayRelayed, p.relayed);
        }
        p.handle.ended(new SplicedPair.Result(how, c2u, u2c), timeline(p));
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

    /** Pairs open and ended, bytes moved each way (ended pairs plus the open ones so far), pairs spliced. */
    public Stats stats() {
        synchronized (statsLock) {
            long c2u = closedC2u;
            long u2c = closedU2c;
            for (Pair p : pairs.values()) {
                c2u += bytes(p, p.client);
                u2c += bytes(p, p.upstream);
            }
            return new Stats(pairs.size(), closedPairs, c2u, u2c, spliced.get());
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
