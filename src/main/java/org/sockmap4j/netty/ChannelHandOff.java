package org.sockmap4j.netty;

import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.CompletableFuture;

import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.EpollSocketChannel;

/**
 * One channel's part of a hand-off, in three steps, each in the channel's event loop:
 * {@link #stop()} (stop reading, hold what still comes in, duplicate the fd),
 * {@link #flush()} (wait until what the pipeline wrote has reached the socket) and
 * {@link #close()} (close the channel: Netty removes the fd from its epoll set, then closes its
 * fd; the duplicate keeps the socket open, so the peer sees nothing). Then the bytes held and the
 * duplicate go to the Splicer; {@link #abort()} undoes whatever was done if the hand-off fails.
 */
final class ChannelHandOff {
    private final EpollSocketChannel channel;
    private final String role;
    private final HandOffHandler handler = new HandOffHandler();
    private volatile SocketDup dup;
    private volatile boolean added;
    private volatile CompletableFuture<Void> writtenBeforeStop;

    ChannelHandOff(EpollSocketChannel channel, String role) {
        this.channel = channel;
        this.role = role;
    }

    /**
     * Stops reading, puts the {@link HandOffHandler} first in the pipeline, duplicates the fd and
     * flushes. Runs at once if called in the channel's loop (so that a read loop under way stops
     * after its current read), else as a task.
     */
    CompletableFuture<Void> stop() {
        return Loops.compose(channel, true, () -> {
            if (!channel.isActive()) {
                throw closed("before the hand-off could stop it");
            }
            if (channel.pipeline().get(HandOffHandler.NAME) != null) {
                throw new IllegalStateException("the " + role + " channel " + channel + " is already being spliced");
            }
            dup = SocketDup.of(channel.fd().intValue()); // from here on, the hand-off has touched the channel
            channel.config().setAutoRead(false);
            // on end of input close Netty's fd (harmless now) rather than shut the shared socket's input
            channel.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, false);
            channel.pipeline().addFirst(HandOffHandler.NAME, handler);
            added = true;
            channel.flush();
            writtenBeforeStop = Loops.of(handler.written());
            return CompletableFuture.completedFuture(null);
        });
    }

    /**
     * Flushes again (writes the other channel's pipeline made before it stopped), then completes
     * once everything written to the channel has reached the socket.
     */
    CompletableFuture<Void> flush() {
        return Loops.compose(channel, false, () -> {
            CompletableFuture<Void> before = writtenBeforeStop;
            if (!channel.isOpen()) { // Netty closed it (the peer half-closed); check nothing queued was lost
                return before.thenCompose(v -> checkWrites());
            }
            channel.flush();
            return CompletableFuture.allOf(before, Loops.of(handler.written())).thenCompose(v -> checkWrites());
        });
    }

    /** Closes the channel (its pipeline's handlers are removed); the socket stays open. */
    CompletableFuture<Void> close() {
        return Loops.compose(channel, false, () -> Loops.of(channel.close()).thenCompose(v -> checkWrites()));
    }

    private CompletableFuture<Void> checkWrites() {
        Throwable t = handler.writeFailure();
        if (t != null) {
            return CompletableFuture.failedFuture(new IllegalStateException("a write to the " + role
                    + " channel failed during the hand-off: those bytes would be missing from the stream", t));
        }
        return CompletableFuture.completedFuture(null);
    }

    /** The duplicate fd (after {@link #stop()}). */
    SocketDup dup() {
        return dup;
    }

    /** Bytes read after the hand-off began; final once {@link #close()} completed. */
    int heldBytes() {
        return handler.heldBytes();
    }

    /** Copies the held bytes into {@code into} and releases them (after {@link #close()}). */
    void drainHeldTo(ByteBuffer into) {
        handler.drainTo(into);
    }

    /**
     * Undoes a failed hand-off if it touched this channel: closes the channel, releases what was
     * held, and makes the socket reset when the duplicate closes (the stream is broken: a FIN would
     * look like a clean end). A channel the hand-off did not touch is left as it is.
     */
    void abort() {
        SocketDup d = dup;
        if (d == null) {
            return;
        }
        d.resetOnClose();
        d.close();
        channel.close();
        if (added) {
            try {
                channel.eventLoop().execute(handler::release);
            } catch (RuntimeException e) {
                handler.release(); // the loop is gone: nothing else uses the handler
            }
        }
    }

    private ClosedChannelException closed(String when) {
        ClosedChannelException e = new ClosedChannelException();
        e.initCause(new IllegalStateException("the " + role + " channel " + channel + " closed " + when));
        return e;
    }

    @Override
    public String toString() {
        return role + " " + channel;
    }
}
