package org.sockmap4j.splice;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sockmap4j.Sockets;
import org.sockmap4j.SplicePolicy;
import org.sockmap4j.SplicedPair;
import org.sockmap4j.Splicer;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Where a short connection's time goes through a Splicer (the issue-17 breakdown): a client
 * connects through the proxy, sends a request, and reads a 1 KiB answer to end of stream; the
 * upstream answers and closes. Each connection's steps are timed from the client's connect (the
 * proxy's accept, upstream connect and {@code splice()} call, the Splicer's own
 * {@link SplicedPair#timeline()}: maps entered, the upstream's FIN seen and passed on, the pair
 * closed; the client's first byte and end of stream) and the medians and 99th percentiles are
 * printed, per policy. Figures, not a timed assertion: what it asserts is that every answer
 * arrived exact, every pair completed, the maps are empty and no fd is left.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(300)
class ShortConnectionTimelineTest {
    static final int CONNECTIONS = Integer.getInteger("sockmap4j.timeline.count", 2_000);
    static final int ANSWER = 1024;

    /** What the proxy thread saw of one connection (nanoTime). */
    record ProxySide(long accepted, long upstreamConnected, long fdLookup, long spliceCalled, SplicedPair pair) {}

    @ParameterizedTest
    @ValueSource(strings = {"relay-first", "always"})
    void whereAShortConnectionsTimeGoes(String policyName) throws Exception {
        // relay-first: auto's 64 KiB without its 100 ms, which a connection in a TCG guest can outlive
        SplicePolicy policy = policyName.equals("always") ? SplicePolicy.always() : ManyPairsTest.RELAY_FIRST;
        byte[] request = "GET / HTTP/1.0\r\n\r\n".getBytes();
        byte[] answer = new byte[ANSWER];
        Arrays.fill(answer, (byte) 'x');
        LinkedBlockingQueue<ProxySide> seen = new LinkedBlockingQueue<>();
        SpliceProxy.HandOff timed = (splicer, client, upstream) -> {
            long accepted = System.nanoTime();
            SocketChannel up = upstream.connect();
            long connected = System.nanoTime();
            // what splice(SocketChannel...) spends finding the two fds, measured apart: without
            // --add-exports java.base/sun.nio.ch (tests run without it) it scans /proc/self/fd
            Sockets.fd(client);
            Sockets.fd(up);
            long looked = System.nanoTime();
            SplicedPair p = splicer.splice(client, up);
            seen.add(new ProxySide(accepted, connected, looked - connected, looked, p));
            return p;
        };
        Map<String, long[]> phases = new LinkedHashMap<>();
        for (String k : List.of("accepted by the proxy", "upstream connected", "fd lookups (2 channels)",
                "splice() returned (after the lookups)",
                "in the maps (spliced)", "first answer byte at the client", "upstream FIN seen by the Splicer",
                "FIN passed on to the client", "end of stream at the client", "pair closed by the Splicer")) {
            phases.put(k, new long[CONNECTIONS]);
        }
        try (Splicer splicer = Splicer.builder().policy(policy).create();
             ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0), 64);
             SpliceProxy proxy = SpliceProxy.start(splicer, server.getLocalAddress(), timed)) {
            Thread upstreamServer = Thread.ofPlatform().daemon().name("timeline-upstream").start(() -> serve(server,
                    request.length, answer));
            SocketAddress to = proxy.address();
            ByteBuffer in = ByteBuffer.allocate(2 * ANSWER);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(200);
            for (int i = 0; i < CONNECTIONS; i++) {
                long t0 = System.nanoTime();
                long firstByte = 0;
                try (SocketChannel c = SocketChannel.open(to)) {
                    c.write(ByteBuffer.wrap(request));
                    in.clear();
                    int n;
                    while ((n = c.read(in)) >= 0) {
                        if (n > 0 && firstByte == 0) {
                            firstByte = System.nanoTime();
                        }
                    }
                }
                long eof = System.nanoTime();
                assertThat(in.flip().remaining()).as("connection %d: answer length", i).isEqualTo(ANSWER);
                assertThat(in).as("connection %d: answer", i).isEqualTo(ByteBuffer.wrap(answer));
                ProxySide ps = seen.poll(10, TimeUnit.SECONDS);
                assertThat(ps).as("connection %d: the proxy's hand-off", i).isNotNull();
                SplicedPair.Result r = ps.pair().done().get(10, TimeUnit.SECONDS);
                assertThat(r).as("connection %d", i)
                        .isEqualTo(new SplicedPair.Result(SplicedPair.End.COMPLETED, request.length, ANSWER));
                SplicedPair.Timeline tl = ps.pair().timeline();
                long call = ps.spliceCalled() - t0;
                record(phases, "accepted by the proxy", i, ps.accepted() - t0);
                record(phases, "upstream connected", i, ps.upstreamConnected() - t0);
                record(phases, "fd lookups (2 channels)", i, ps.fdLookup());
                record(phases, "splice() returned (after the lookups)", i, call + tl.spliceCall());
                record(phases, "in the maps (spliced)", i, tl.spliced() < 0 ? -1 : call + tl.spliced());
                record(phases, "first answer byte at the client", i, firstByte - t0);
                record(phases, "upstream FIN seen by the Splicer", i, call + tl.upstreamEnded());
                record(phases, "FIN passed on to the client", i, call + tl.finToClient());
                record(phases, "end of stream at the client", i, eof - t0);
                record(phases, "pair closed by the Splicer", i, call + tl.ended());
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("only " + (i + 1) + " connections in 200 s");
                }
            }
            server.close();
            upstreamServer.join(5000);
            assertThat(proxy.errors()).isEmpty();
            assertThat(splicer.stats().pairsSpliced()).isEqualTo(policy.immediate() ? CONNECTIONS : 0);
            assertThat(SplicerMaps.of(splicer)).isEqualTo(SplicerMaps.Entries.NONE);
        }
        StringBuilder out = new StringBuilder(String.format("ShortConnectionTimelineTest (%s policy): %d connections, "
                + "request %d B, answer %d B, us after the client's connect() began (fd lookups: their own duration; "
                + "fast path %s):%n", policyName, CONNECTIONS, request.length, ANSWER, Sockets.fastFdLookup()));
        out.append(String.format("  %-38s %9s %9s%n", "step", "median", "p99"));
        for (Map.Entry<String, long[]> e : phases.entrySet()) {
            long[] v = Arrays.stream(e.getValue()).filter(x -> x >= 0).sorted().toArray();
            if (v.length == 0) {
                out.append(String.format("  %-38s %9s %9s%n", e.getKey(), "-", "-"));
                continue;
            }
            out.append(String.format("  %-38s %9.1f %9.1f%n", e.getKey(), v[v.length / 2] / 1e3,
                    v[Math.min(v.length - 1, (int) (v.length * 0.99))] / 1e3));
        }
        System.out.print(out);
    }

    private static void record(Map<String, long[]> phases, String step, int i, long nanos) {
        phases.get(step)[i] = nanos;
    }

    /** Accepts until closed: reads the request, writes the answer, closes. */
    private static void serve(ServerSocketChannel server, int requestLength, byte[] answer) {
        ByteBuffer req = ByteBuffer.allocate(requestLength);
        List<Throwable> errors = new ArrayList<>();
        while (server.isOpen()) {
            try (SocketChannel u = server.accept()) {
                req.clear();
                while (req.hasRemaining() && u.read(req) >= 0) {
                    // until the whole request is in
                }
                ByteBuffer a = ByteBuffer.wrap(answer);
                while (a.hasRemaining()) {
                    u.write(a);
                }
            } catch (java.nio.channels.ClosedChannelException e) {
                return;
            } catch (java.io.IOException e) {
                errors.add(e);
                if (errors.size() > 10) {
                    return;
                }
            }
        }
    }
}
