package org.sockmap4j;

import java.util.concurrent.CompletableFuture;

/**
 * One client/upstream pair handed to the kernel by a {@link Splicer}. Completes when both
 * directions have ended (or one was reset, or the pair or the Splicer was closed), with the byte
 * counts the verdict program kept. {@link #close()} ends the pair at once: both sockets are
 * closed.
 */
public final class SplicedPair implements AutoCloseable {
    /** How a pair ended. */
    public enum End {
        /** Both sides shut down their sending direction (FIN each way), propagated to the other. */
        COMPLETED,
        /** One side was reset or failed; the other was reset too. */
        RESET,
        /** Closed by {@link SplicedPair#close()} or {@link Splicer#close()}. */
        CLOSED
    }

    /** The outcome of a pair: how it ended and how many bytes the kernel moved each way. */
    public record Result(End end, long clientToUpstream, long upstreamToClient) {}

    private final Splicer splicer;
    private final long id;
    final CompletableFuture<Result> done = new CompletableFuture<>();

    SplicedPair(Splicer splicer, long id) {
        this.splicer = splicer;
        this.id = id;
    }

    /** Completes when the pair has ended and both sockets are closed. */
    public CompletableFuture<Result> done() {
        return done.copy();
    }

    /** Bytes the kernel has moved from the client to the upstream so far (final once ended). */
    public long clientToUpstream() {
        long b = splicer.bytes(id, true);
        return b >= 0 ? b : done.join().clientToUpstream();
    }

    /** Bytes the kernel has moved from the upstream to the client so far (final once ended). */
    public long upstreamToClient() {
        long b = splicer.bytes(id, false);
        return b >= 0 ? b : done.join().upstreamToClient();
    }

    /** Ends the pair now: removes both sockets from the map and closes them. Idempotent. */
    @Override
    public void close() {
        splicer.end(id, End.CLOSED);
    }

    @Override
    public String toString() {
        return "spliced pair " + id + (done.isDone() ? " (ended)" : "");
    }
}
