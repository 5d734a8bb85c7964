package org.sockmap4j;

import java.util.concurrent.CompletableFuture;

/**
 * One client/upstream pair handed to a {@link Splicer} (relayed in user space, then spliced in
 * the kernel as its {@link SplicePolicy} says). Completes when both
 * directions have ended (or one was reset, or the pair or the Splicer was closed), with the byte
 * counts. {@link #close()} ends the pair at once: both sockets are
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

    /** The outcome of a pair: how it ended and how many bytes were moved each way. */
    public record Result(End end, long clientToUpstream, long upstreamToClient) {}

    /**
     * When each step of the pair happened, in nanoseconds after {@code splice()} was called, or
     * -1 for a step that has not happened (or never will: a pair relayed to its end is never
     * spliced). Where a connection's time goes: hand it to a histogram.
     *
     * @param spliceCall       how long the {@code splice()} call took
     * @param spliced          when both sockets entered the kernel's maps
     * @param clientEnded      when the watcher saw the client's FIN
     * @param upstreamEnded    when the watcher saw the upstream's FIN
     * @param finToUpstream    when the client's FIN was passed on (the upstream's output shut down)
     * @param finToClient      when the upstream's FIN was passed on
     * @param ended            when both sockets were closed
     */
    public record Timeline(long spliceCall, long spliced, long clientEnded, long upstreamEnded, long finToUpstream,
            long finToClient, long ended) {}

    private final Splicer splicer;
    private final long id;
    private final CompletableFuture<Result> done = new CompletableFuture<>();
    private volatile Timeline timeline;

    SplicedPair(Splicer splicer, long id) {
        this.splicer = splicer;
        this.id = id;
    }

    void ended(Result r, Timeline t) {
        timeline = t;
        done.complete(r);
    }

    /** When each step happened so far (final once {@link #done()} completed). */
    public Timeline timeline() {
        Timeline t = timeline;
        if (t == null) {
            t = splicer.timeline(id, null);
        }
        return t != null ? t : timeline; // ended meanwhile
    }

    /** Completes when the pair has ended and both sockets are closed. */
    public CompletableFuture<Result> done() {
        return done.copy();
    }

    /** Bytes moved from the client to the upstream so far, relayed or spliced (final once ended). */
    public long clientToUpstream() {
        long b = splicer.bytes(id, true);
        return b >= 0 ? b : done.join().clientToUpstream();
    }

    /** Bytes moved from the upstream to the client so far, relayed or spliced (final once ended). */
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
