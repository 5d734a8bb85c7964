package org.sockmap4j.netty.example;

import java.nio.channels.ClosedChannelException;

import io.netty.buffer.ByteBuf;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;
import reactor.netty.Connection;
import reactor.netty.tcp.TcpClient;

import org.sockmap4j.SplicedPair;
import org.sockmap4j.netty.NettySplicer;

/**
 * The Reactor Netty example proxy's work on one accepted client, as the {@code Mono} its
 * {@code TcpServer} handler returns: read the header through the connection's inbound, connect
 * to the upstream with a {@code TcpClient} (on the client's event loop: the loop resources
 * colocate), write the header through the upstream's outbound, then splice the two underlying
 * channels, with whatever Reactor read beyond the header (either way) as the adapter's pending
 * bytes. The {@code Mono} completes once the hand-off has ended; Reactor then disposes the client
 * connection, whose channel the adapter has closed already.
 *
 * <p>The listener hears of each client once: {@code spliced} (with the bytes the proxy read and
 * wrote itself each way: the header and Reactor's read-ahead), or {@code failed} (the client left
 * or the upstream refused before the splice, or the splice failed).
 */
final class ReactorHandOff {
    private final Connection client;
    private final NettySplicer splicer;
    private final TcpClient upstreams;
    private final int headerLength;
    private final ReactorSpliceProxyExample.Listener listener;
    private final HeldInbound fromClient;
    // the rest is touched in the client's event loop only (the upstream's is the same)
    private Connection upstream;
    private HeldInbound fromUpstream;
    private boolean handedOff; // from then on the adapter owns both channels and its future reports
    private boolean reported;

    private ReactorHandOff(Connection client, NettySplicer splicer, TcpClient upstreams, int headerLength,
            ReactorSpliceProxyExample.Listener listener) {
        this.client = client;
        this.splicer = splicer;
        this.upstreams = upstreams;
        this.headerLength = headerLength;
        this.listener = listener;
        this.fromClient = HeldInbound.subscribe(client, headerLength);
    }

    /** Starts on {@code client} (in its event loop); the returned {@code Mono} is the handler's. */
    static Mono<Void> start(Connection client, NettySplicer splicer, TcpClient upstreams, int headerLength,
            ReactorSpliceProxyExample.Listener listener) {
        return new ReactorHandOff(client, splicer, upstreams, headerLength, listener).run();
    }

    private Mono<Void> run() {
        return fromClient.enough()
                .then(Mono.defer(upstreams::connect)) // subscribed in the client's loop: colocated
                .flatMap(this::forwardHeaderThenSplice)
                .doOnError(this::failed)
                .doOnCancel(() -> failed(new ClosedChannelException())) // Reactor saw the client close
                .doFinally(signal -> cleanUp());
    }

    private Mono<Void> forwardHeaderThenSplice(Connection up) {
        upstream = up;
        if (!(client.channel() instanceof EpollSocketChannel c) || !(up.channel() instanceof EpollSocketChannel u)) {
            return Mono.error(new IllegalStateException("the adapter needs native epoll channels, got "
                    + client.channel().getClass().getName() + " and " + up.channel().getClass().getName()
                    + ": is netty-transport-native-epoll on the class path, and runOn(loops, true)?"));
        }
        if (c.eventLoop() != u.eventLoop()) {
            return Mono.error(new IllegalStateException("the upstream connection is not on the client's event loop:"
                    + " the TcpClient must run on colocating LoopResources"));
        }
        fromUpstream = HeldInbound.subscribe(up, 0); // reads nothing; holds what Reactor reads on its own
        Mono<Void> header = headerLength == 0 ? Mono.empty()
                : up.outbound().send(Mono.fromSupplier(() -> fromClient.takeFirst(headerLength))).then();
        return header.then(Mono.create(sink -> {
            try {
                c.eventLoop().execute(() -> splice(c, u, sink)); // a fresh loop task: no Reactor drain on the stack
            } catch (RuntimeException e) {
                sink.error(e);
            }
        }));
    }

    /** In the loop: takes what Reactor read, then splices in the same task (the adapter stops both channels). */
    private void splice(EpollSocketChannel c, EpollSocketChannel u, MonoSink<Void> sink) {
        ByteBuf toUpstream = null;
        ByteBuf toClient;
        try {
            toUpstream = fromClient.take();
            toClient = fromUpstream.take();
        } catch (RuntimeException e) { // released meanwhile: the handler was cancelled
            ReferenceCountUtil.safeRelease(toUpstream);
            sink.error(e);
            return;
        }
        handedOff = true;
        long readToUpstream = headerLength + toUpstream.readableBytes();
        long readToClient = toClient.readableBytes();
        splicer.splice(c, toUpstream, u, toClient).addListener((Future<SplicedPair> f) -> { // in the client's loop
            upstream.dispose(); // its channel is closed (by the adapter); this ends Reactor's side of it
            if (f.isSuccess()) {
                listener.spliced(f.getNow(), readToUpstream, readToClient);
            } else {
                listener.failed(f.cause()); // the adapter closed (or reset) both connections
            }
            sink.success();
        });
    }

    private void failed(Throwable cause) {
        if (!handedOff && !reported) {
            reported = true;
            listener.failed(cause);
        }
    }

    private void cleanUp() {
        fromClient.release();
        if (fromUpstream != null) {
            fromUpstream.release();
        }
        if (!handedOff && upstream != null) {
            upstream.dispose();
        }
    }
}
