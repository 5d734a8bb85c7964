package org.sockmap4j.netty;

import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import io.netty.buffer.ByteBuf;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;

import org.sockmap4j.BpfException;
import org.sockmap4j.SplicedPair;
import org.sockmap4j.Splicer;
import org.sockmap4j.UnsupportedSocketException;

/**
 * Splices two Netty native-epoll channels ({@link EpollSocketChannel}) through a {@link Splicer}:
 * once a proxy's pipeline has done its work on a client (read a header, chosen and connected an
 * upstream), {@link #splice} takes both sockets out of Netty and hands them to the kernel, which
 * from then on moves every byte each way without waking the JVM (BPF socket maps with an SK_SKB
 * verdict program, ingress to egress; Linux 5.13+ for {@code BPF_SK_SKB_VERDICT}). The Splicer
 * owns the sockets from then on; the channels are closed.
 *
 * <h2>The hand-off</h2>
 * <ol>
 * <li>In each channel's event loop (at once if {@code splice} is called there, e.g. from
 * {@code channelRead}): reading stops ({@code autoRead} false), a handler is put first in the
 * pipeline that holds whatever Netty still reads (a read already requested, or what Netty reads on
 * its own when the peer half-closes) and keeps every further inbound event, {@code channelInactive}
 * included, from the pipeline's handlers; the socket's fd is duplicated
 * ({@code fcntl(F_DUPFD_CLOEXEC)}, {@link org.sockmap4j.Sockets#dup}).</li>
 * <li>Both channels are flushed, and the hand-off waits (up to 30 s) until everything the pipeline
 * wrote to either has reached its socket. A write that fails in this time fails the hand-off.</li>
 * <li>Both channels are closed: Netty removes each fd from its epoll set, then closes its fd. The
 * duplicate keeps the socket open: the peer sees no FIN and nothing else. The pipelines'
 * handlers get {@code handlerRemoved}, not {@code channelInactive}.</li>
 * <li>On the hand-off executor (the Splicer's hand-off may block: it writes pending bytes, waiting
 * for room, and moves what is queued): {@link Splicer#splice(int, ByteBuffer, int, ByteBuffer)}
 * with the duplicates, {@code toUpstream} followed by what the client channel read during the
 * hand-off, and {@code toClient} followed by what the upstream channel read.</li>
 * </ol>
 * Bytes the adapter writes this way are the proxy's own writes: like the Splicer's pending
 * buffers, they are not in the pair's byte counts.
 *
 * <h2>Rules for the caller</h2>
 * Pass in {@code toUpstream} and {@code toClient} every byte the pipeline read and has not
 * forwarded (what a decoder holds, for instance), and write nothing to either channel after the
 * call. Channels with TLS or any other transformation in the pipeline cannot be spliced: the
 * kernel moves raw bytes. The adapter always takes ownership of {@code toUpstream} and
 * {@code toClient} and releases them.
 *
 * <h2>Errors</h2>
 * The returned future fails with:
 * <ul>
 * <li>{@link ClosedChannelException} if a channel is not active when {@code splice} is called:
 * the channels were not touched (the caller keeps them; the buffers were released).</li>
 * <li>{@link UnsupportedSocketException} or {@link IllegalArgumentException} if the Splicer refused
 * the sockets (not established TCP, already spliced) before touching any data,
 * {@link IllegalStateException} if the Splicer is closed or a channel is already being spliced, a
 * {@link ClosedChannelException} if a channel closed during the hand-off, a
 * {@link java.util.concurrent.TimeoutException} if the pipeline's writes did not drain in time,
 * or an {@code IllegalStateException} if one of them failed.
 * In all these cases the adapter resets and closes every connection it had begun to take out of
 * Netty (both, unless a channel was refused at its first step: inactive, or already being
 * spliced).</li>
 * <li>{@link BpfException} if the Splicer failed after it began moving data: it has reset and
 * closed both sockets.</li>
 * </ul>
 *
 * <h2>Why a Netty {@link Future}</h2>
 * The future is the client channel's event loop's: its listeners run in that loop, where the
 * handler that called {@code splice} lives, so they can touch the handler's state without
 * locking, as with every {@code ChannelFuture}; and it refuses to be awaited in that loop, where
 * waiting would deadlock. It is a {@link java.util.concurrent.Future} too, and cannot be
 * cancelled: once the sockets are out of Netty, the hand-off runs to its end. (A
 * {@code CompletableFuture} would run its callbacks on whichever thread completed it: here a
 * hand-off thread, outside every event loop.)
 *
 * <p>Thread-safe; one instance per Splicer is enough.
 */
public final class NettySplicer {
    private static final long FLUSH_TIMEOUT_SECONDS = 30;

    private static final class DefaultExecutor {
        // platform threads: the Splicer's hand-off blocks in native calls (poll), which would pin
        // a virtual thread's carrier and could starve every other virtual thread
        static final ExecutorService INSTANCE = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 30, TimeUnit.SECONDS,
                new SynchronousQueue<>(), Thread.ofPlatform().daemon().name("sockmap4j-netty-splice-", 0).factory());
    }

    private final Splicer splicer;
    private final Executor executor;

    private NettySplicer(Splicer splicer, Executor executor) {
        this.splicer = Objects.requireNonNull(splicer, "splicer");
        this.executor = Objects.requireNonNull(executor, "executor");
    }

    /**
     * An adapter for {@code splicer} whose final hand-off step runs on a shared pool of daemon
     * platform threads (one per hand-off under way; idle ones end after 30 s). The adapter does
     * not own the Splicer: closing the Splicer ends every pair.
     */
    public static NettySplicer of(Splicer splicer) {
        return new NettySplicer(splicer, DefaultExecutor.INSTANCE);
    }

    /**
     * An adapter for {@code splicer} whose final hand-off step (the blocking
     * {@link Splicer#splice(int, ByteBuffer, int, ByteBuffer)}) runs on {@code executor}. Not an
     * event loop (the step may block for up to 30 s), and preferably not virtual threads: the
     * step blocks in native calls, which pin a virtual thread to its carrier.
     */
    public static NettySplicer of(Splicer splicer, Executor executor) {
        return new NettySplicer(splicer, executor);
    }

    /** The Splicer the pairs go to. */
    public Splicer splicer() {
        return splicer;
    }

    /** Splices two channels with nothing read and not forwarded; see {@link #splice(EpollSocketChannel, ByteBuf, EpollSocketChannel, ByteBuf)}. */
    public Future<SplicedPair> splice(EpollSocketChannel client, EpollSocketChannel upstream) {
        return splice(client, null, upstream, null);
    }

    /**
     * Takes both channels out of Netty and splices their sockets, after writing {@code toUpstream}
     * (bytes read from the client and not forwarded) to the upstream and {@code toClient} (read
     * from the upstream) to the client; either may be null. Takes ownership of both buffers. See
     * the class comment for the steps and the errors.
     *
     * @return completes, in the client channel's event loop, with the pair, whose
     *     {@link SplicedPair#done()} tells when and how it ended
     * @throws IllegalArgumentException if {@code client} and {@code upstream} are the same channel
     */
    public Future<SplicedPair> splice(EpollSocketChannel client, ByteBuf toUpstream, EpollSocketChannel upstream,
            ByteBuf toClient) {
        Pending pending = new Pending(toUpstream, toClient);
        try {
            Objects.requireNonNull(client, "client");
            Objects.requireNonNull(upstream, "upstream");
            if (client == upstream) {
                throw new IllegalArgumentException("client and upstream are the same channel: " + client);
            }
        } catch (RuntimeException e) {
            pending.release();
            throw e;
        }
        Promise<SplicedPair> promise = (client.isRegistered() ? client.eventLoop() : ImmediateEventExecutor.INSTANCE)
                .newPromise();
        promise.setUncancellable();
        if (!client.isActive() || !upstream.isActive()) {
            pending.release();
            ClosedChannelException e = new ClosedChannelException();
            e.initCause(new IllegalStateException("cannot splice an inactive channel: client " + client
                    + (client.isActive() ? "" : " (inactive)") + ", upstream " + upstream
                    + (upstream.isActive() ? "" : " (inactive)")));
            return promise.setFailure(e);
        }
        ChannelHandOff c = new ChannelHandOff(client, "client");
        ChannelHandOff u = new ChannelHandOff(upstream, "upstream");
        CompletableFuture.allOf(c.stop(), u.stop())
                .thenCompose(v -> CompletableFuture.allOf(c.flush(), u.flush())
                        .orTimeout(FLUSH_TIMEOUT_SECONDS, TimeUnit.SECONDS))
                .thenCompose(v -> CompletableFuture.allOf(c.close(), u.close()))
                .thenApplyAsync(v -> handOver(c, u, pending), executor)
                .whenComplete((pair, err) -> {
                    if (err == null) {
                        promise.setSuccess(pair);
                        return;
                    }
                    pending.release();
                    c.abort();
                    u.abort();
                    promise.setFailure(unwrap(err));
                });
        return promise;
    }

    /** The last step, off the event loops: the channels are closed, what they held is final. */
    private SplicedPair handOver(ChannelHandOff c, ChannelHandOff u, Pending pending) {
        ByteBuffer toUpstream = pending.toUpstream(c);
        ByteBuffer toClient = pending.toClient(u);
        int cFd = c.dup().duplicate();
        int uFd;
        try {
            uFd = u.dup().duplicate();
        } catch (RuntimeException e) {
            c.dup().closeIfOpen(cFd);
            throw e;
        }
        SplicedPair pair;
        try {
            pair = splicer.splice(cFd, toUpstream, uFd, toClient);
        } catch (RuntimeException e) {
            // refused: the fds are still ours; failed later: the Splicer reset and closed them
            c.dup().closeIfOpen(cFd);
            u.dup().closeIfOpen(uFd);
            throw e;
        }
        c.dup().close(); // the Splicer's duplicates keep the sockets open
        u.dup().close();
        return pair;
    }

    private static Throwable unwrap(Throwable t) {
        while (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    /** The caller's pending bytes, owned by the hand-off until copied or released. */
    private static final class Pending {
        private ByteBuf toUpstream;
        private ByteBuf toClient;

        Pending(ByteBuf toUpstream, ByteBuf toClient) {
            this.toUpstream = toUpstream;
            this.toClient = toClient;
        }

        /** The caller's bytes for the upstream, then what the client channel held. */
        synchronized ByteBuffer toUpstream(ChannelHandOff client) {
            ByteBuffer b = concat(toUpstream, client);
            ReferenceCountUtil.safeRelease(toUpstream);
            toUpstream = null;
            return b;
        }

        /** The caller's bytes for the client, then what the upstream channel held. */
        synchronized ByteBuffer toClient(ChannelHandOff upstream) {
            ByteBuffer b = concat(toClient, upstream);
            ReferenceCountUtil.safeRelease(toClient);
            toClient = null;
            return b;
        }

        private static ByteBuffer concat(ByteBuf first, ChannelHandOff then) {
            int n = first == null ? 0 : first.readableBytes();
            ByteBuffer b = ByteBuffer.allocate(n + then.heldBytes());
            if (n > 0) {
                first.getBytes(first.readerIndex(), b.slice(0, n));
                b.position(n);
            }
            then.drainHeldTo(b);
            return b.flip();
        }

        synchronized void release() {
            if (toUpstream != null) {
                ReferenceCountUtil.safeRelease(toUpstream);
                toUpstream = null;
            }
            if (toClient != null) {
                ReferenceCountUtil.safeRelease(toClient);
                toClient = null;
            }
        }
    }
}
