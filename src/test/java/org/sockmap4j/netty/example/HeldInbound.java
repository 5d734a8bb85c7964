package org.sockmap4j.netty.example;

import java.nio.channels.ClosedChannelException;

import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.netty.Connection;

/**
 * What a Reactor Netty connection has received, kept for the splice: subscribes to the
 * connection's inbound, copies every buffer it gets (Reactor releases a buffer once
 * {@code onNext} returns), and requests one buffer at a time until {@code wanted} bytes are held.
 *
 * <p>Reactor reads ahead of demand: once a buffer is delivered it keeps reading into its own queue
 * (up to 32 buffers) even with no demand left, and cancelling the inbound would drop that queue.
 * So {@link #take()} never cancels first: it requests everything, which in the connection's event
 * loop delivers the whole queue at once, and only then hands over what is held. Called in the
 * same loop task as {@code NettySplicer.splice}, which stops the channel before the loop can read
 * again, nothing is lost in between.
 *
 * <p>Confined to the connection's event loop (Reactor delivers there; {@link #take()} must be
 * called there), except {@link #release()}, which moves to it.
 */
final class HeldInbound implements CoreSubscriber<ByteBuf> {
    private final EventLoop loop;
    private final int wanted;
    private final Sinks.Empty<Void> enough = Sinks.empty();
    private ByteBuf held; // null once taken or released
    private Subscription subscription;
    private boolean ended;

    private HeldInbound(Connection connection, int wanted) {
        this.loop = connection.channel().eventLoop();
        this.wanted = wanted;
        this.held = connection.channel().alloc().buffer(Math.max(wanted, 64));
    }

    /** Subscribes to {@code connection}'s inbound; reads until {@code wanted} bytes are held (0: reads nothing). */
    static HeldInbound subscribe(Connection connection, int wanted) {
        HeldInbound h = new HeldInbound(connection, wanted);
        connection.inbound().receive().subscribe(h);
        return h;
    }

    /**
     * Completes (in the event loop) once {@code wanted} bytes are held; fails with a
     * {@link ClosedChannelException} if the inbound ended before.
     */
    Mono<Void> enough() {
        return enough.asMono();
    }

    @Override
    public void onSubscribe(Subscription s) {
        subscription = s;
        if (wanted > 0) {
            s.request(1);
        } else {
            enough.tryEmitEmpty();
        }
    }

    @Override
    public void onNext(ByteBuf b) {
        if (held == null) {
            return; // taken or released: Reactor releases b
        }
        held.writeBytes(b, b.readerIndex(), b.readableBytes());
        if (held.readableBytes() >= wanted) {
            enough.tryEmitEmpty(); // once; later calls fail quietly
        } else {
            subscription.request(1);
        }
    }

    @Override
    public void onError(Throwable t) {
        ended = true;
        ClosedChannelException e = new ClosedChannelException();
        e.initCause(t);
        enough.tryEmitError(e);
    }

    @Override
    public void onComplete() {
        ended = true;
        enough.tryEmitError(new ClosedChannelException());
    }

    /** Removes and returns the first {@code n} bytes held (in the event loop, once {@link #enough()}). */
    ByteBuf takeFirst(int n) {
        return held.readBytes(n); // a copy, from the same allocator
    }

    /**
     * Everything still held, including what Reactor had queued: requests the rest of the stream so
     * that Reactor delivers its queue now, then cancels (the queue is empty) and hands over the
     * buffer (the caller owns it). From here on the caller must stop the channel in this same loop
     * task, as {@code NettySplicer.splice} does when called in the loop.
     *
     * @throws IllegalStateException if not called in the connection's event loop
     */
    ByteBuf take() {
        if (!loop.inEventLoop()) {
            throw new IllegalStateException("take() outside the connection's event loop");
        }
        if (held == null) {
            throw new IllegalStateException("already taken or released");
        }
        if (!ended) {
            subscription.request(Long.MAX_VALUE); // delivers Reactor's queue synchronously, here
        }
        ByteBuf b = held;
        held = null;
        subscription.cancel();
        return b;
    }

    /** Releases what is held and cancels the subscription, unless taken already; idempotent. */
    void release() {
        if (!loop.inEventLoop()) {
            try {
                loop.execute(this::release);
                return;
            } catch (RuntimeException e) {
                // the loop is gone: nothing else touches this any more
            }
        }
        if (held != null) {
            ReferenceCountUtil.safeRelease(held);
            held = null;
            if (subscription != null) {
                subscription.cancel();
            }
        }
    }
}
