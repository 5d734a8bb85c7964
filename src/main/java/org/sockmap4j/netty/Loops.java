package org.sockmap4j.netty;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

import io.netty.channel.Channel;
import io.netty.util.concurrent.Future;

/** Running hand-off steps in a channel's event loop, and Netty futures as CompletableFutures. */
final class Loops {
    private Loops() {}

    /**
     * Runs {@code step} in {@code ch}'s event loop, at once if the caller is that loop and
     * {@code inline}, else as a task; completes with the future the step returns.
     */
    static <T> CompletableFuture<T> compose(Channel ch, boolean inline, Callable<CompletableFuture<T>> step) {
        CompletableFuture<T> result = new CompletableFuture<>();
        Runnable run = () -> {
            try {
                step.call().whenComplete((v, e) -> {
                    if (e != null) {
                        result.completeExceptionally(e);
                    } else {
                        result.complete(v);
                    }
                });
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        };
        if (inline && ch.eventLoop().inEventLoop()) {
            run.run();
        } else {
            try {
                ch.eventLoop().execute(run);
            } catch (RuntimeException e) { // the loop was shut down
                result.completeExceptionally(e);
            }
        }
        return result;
    }

    /** A CompletableFuture that completes (without a value) when {@code f} does. */
    static CompletableFuture<Void> of(Future<?> f) {
        CompletableFuture<Void> cf = new CompletableFuture<>();
        f.addListener(done -> {
            if (done.isSuccess()) {
                cf.complete(null);
            } else {
                cf.completeExceptionally(done.cause());
            }
        });
        return cf;
    }
}
