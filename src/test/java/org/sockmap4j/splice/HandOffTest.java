package org.sockmap4j.splice;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.RepetitionInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.SplicedPair;
import org.sockmap4j.SplicePolicy;
import org.sockmap4j.Splicer;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Hand-off with data in flight: the client streams without pause while the proxy reads a header
 * (a few bytes out of whatever segment they arrived in), connects upstream and splices; the
 * upstream speaks first and streams too. Every byte arrives once and in order, each way.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class HandOffTest {
    static final long BYTES = 4L << 20;
    static final int CHUNK = 1000; // not a divisor of the segment size: the header read splits one
    static final int HEADER = 7;

    /** Reads exactly the header from the client, then splices with nothing pending beyond it. */
    static final SpliceProxy.HandOff READ_HEADER = (splicer, client, upstream) -> {
        ByteBuffer hdr = ByteBuffer.allocate(HEADER);
        while (hdr.hasRemaining()) {
            if (client.read(hdr) < 0) {
                throw new AssertionError("client closed before its header");
            }
        }
        SocketChannel up = upstream.connect();
        // the header is forwarded as pending bytes; the rest of its segment is still queued
        return splicer.splice(client, hdr.flip(), up, null);
    };

    @RepeatedTest(20)
    void clientStreamingDuringTheHandOffLosesAndRepeatsNothing() throws Exception {
        handOffWhileStreaming(Splicer.builder().policy(SplicePolicy.always()).create());
    }

    /**
     * The relay -> kernel switch of the default policy, mid-stream with data flowing both ways:
     * relayed until a byte count (a different one each time, so the switch falls at another
     * point of the streams), then spliced; every byte arrives once and in order.
     */
    @RepeatedTest(100)
    void theSwitchFromRelayToKernelMidStreamLosesAndRepeatsNothing(RepetitionInfo rep) throws Exception {
        long after = 8 * 1024 + rep.getCurrentRepetition() * 2_003L;
        handOffWhileStreaming(Splicer.builder().policy(SplicePolicy.after(after, Duration.ofHours(1))).create());
    }

    /**
     * The same with the stream parser (the default before 5.13): on 5.10 the client's FIN once
     * reached the proxy while the parser still held the stream's last bytes, and the upstream
     * got a clean but short stream (2 of 20 repetitions): the Splicer now waits for every byte
     * TCP received to pass the verdict before it propagates the FIN.
     */
    @RepeatedTest(20)
    void clientStreamingDuringTheHandOffWithTheStreamParser() throws Exception {
        handOffWhileStreaming(Splicer.builder().framing(Splicer.Framing.STREAM_PARSER).policy(SplicePolicy.always())
                .create());
    }

    /**
     * Waits (at most 10 s) until the pair went to the kernel: a peer that has written its whole
     * stream into the socket buffers (4 MiB fit on loopback) and sent FIN leaves its socket in
     * CLOSE_WAIT, which no socket map takes, and the pair would then be relayed to its end.
     */
    private static void awaitSpliced(Splicer splicer) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (splicer.stats().pairsSpliced() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
    }

    private static void handOffWhileStreaming(Splicer created) throws Exception {
        try (SplicerLog log = new SplicerLog();
             Splicer splicer = created;
             ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SpliceProxy proxy = SpliceProxy.start(splicer, server.getLocalAddress(), READ_HEADER);
             ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
             SocketChannel client = SocketChannel.open(proxy.address())) {
            // the client sends header + stream in one go, then the upstream's stream comes back
            Future<Streams.Digest> sent = threads.submit(() -> {
                ByteBuffer hdr = ByteBuffer.wrap("HEADER:".getBytes());
                while (hdr.hasRemaining()) {
                    client.write(hdr);
                }
                Streams.Digest d = Streams.send(client, 1, BYTES, CHUNK);
                awaitSpliced(splicer); // a side that sent FIN cannot enter a socket map
                client.shutdownOutput();
                return d;
            });
            try (SocketChannel up = server.accept()) {
                // server speaks first, while the client is still streaming
                Future<Streams.Digest> reply = threads.submit(() -> {
                    Streams.Digest d = Streams.send(up, 2, BYTES, CHUNK);
                    awaitSpliced(splicer);
                    up.shutdownOutput();
                    return d;
                });
                ByteBuffer hdr = ByteBuffer.allocate(HEADER);
                while (hdr.hasRemaining()) {
                    assertThat(up.read(hdr)).isNotNegative();
                }
                assertThat(new String(hdr.array())).isEqualTo("HEADER:");
                Future<String> atClient = threads.submit(() -> Streams.receiveAndCompare(client, 2, BYTES, CHUNK));
                String atUpstream;
                try {
                    atUpstream = Streams.receiveAndCompare(up, 1, BYTES, CHUNK);
                } catch (java.io.IOException e) {
                    proxy.errors().forEach(e::addSuppressed); // a failed hand-off resets both sides
                    throw e;
                }
                sent.get(30, TimeUnit.SECONDS);
                reply.get(30, TimeUnit.SECONDS);
                String toClient = atClient.get(30, TimeUnit.SECONDS);
                if (atUpstream != null || toClient != null) { // say what the Splicer thought it moved
                    SplicedPair pair = proxy.nextPair(Duration.ofSeconds(5));
                    String diag = "; the pair: " + (pair.done().isDone() ? pair.done().join() : "not ended")
                            + ", " + pair.timeline() + "; splicer stats: " + splicer.stats()
                            + "; the Splicer said:\n" + log.text();
                    atUpstream = atUpstream == null ? null : atUpstream + diag;
                    toClient = toClient == null ? null : toClient + diag;
                }
                assertThat(atUpstream).as("client -> upstream").isNull();
                assertThat(toClient).as("upstream -> client").isNull();
            }
            SplicedPair pair = proxy.nextPair(Duration.ofSeconds(5));
            SplicedPair.Result r = pair.done().get(30, TimeUnit.SECONDS);
            assertThat(r.end()).isEqualTo(SplicedPair.End.COMPLETED);
            assertThat(r.clientToUpstream()).isEqualTo(BYTES); // the header was the proxy's own write
            assertThat(r.upstreamToClient()).isEqualTo(BYTES);
            assertThat(SplicerMaps.of(splicer)).isEqualTo(SplicerMaps.Entries.NONE);
            assertThat(splicer.stats().pairsSpliced()).as("the pair went to the kernel: %s, %s; the Splicer said:%n%s", r,
                    pair.timeline(), log.text()).isEqualTo(1);
            // each direction that went to the kernel passed its FIN on once every byte before it
            // was taken; a direction may also stay relayed to its end (its source sent FIN while
            // switching, or its target never caught up with its send queue)
            String said = log.text();
            assertThat(said).as("a direction went to the kernel").contains("bytes go through the kernel now");
            if (said.contains("the client's bytes go through the kernel now")) {
                assertThat(said).as("client -> upstream spliced: its FIN").contains("FIN on to the upstream");
            }
            if (said.contains("the upstream's bytes go through the kernel now")) {
                assertThat(said).as("upstream -> client spliced: its FIN").contains("FIN on to the client");
            }
        }
    }
}
