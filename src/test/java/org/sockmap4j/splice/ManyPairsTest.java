package org.sockmap4j.splice;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.Sockets;
import org.sockmap4j.SplicedPair;
import org.sockmap4j.SplicePolicy;
import org.sockmap4j.Splicer;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * 10,000 short pairs, one after another: connect, splice, a few bytes each way, shut down both
 * sides, await the pair's end. Afterwards no pair is open, 10,000 ended, the maps are empty and
 * the process has the fds it had before (FdLeakCheck). Prints the time per pair and where it goes.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(300)
class ManyPairsTest {
    /** 10,000 here; scripts/vmtest.sh sets fewer (TCG guests are 6-9 times slower). */
    static final int PAIRS = Integer.getInteger("sockmap4j.manypairs.count", 10_000);
    static final Duration BUDGET = Duration.ofSeconds(240);
    /** Splices after 64 KiB (as auto does) and never for age: 1 KiB pairs stay relayed. */
    static final SplicePolicy RELAY_FIRST = SplicePolicy.after(64 * 1024, Duration.ofHours(1));

    /**
     * Request, a 1 KiB answer, FIN both ways, 10,000 times: relayed to the end under a relay-first
     * policy (none spliced), spliced at once under always (all spliced). The relay-first policy is
     * auto's 64 KiB without its 100 ms: in a TCG guest a pair can live longer than 100 ms, and
     * auto then splices it (2 of 2,000 did in CI), which is right but makes the count a race.
     */
    @ParameterizedTest
    @ValueSource(strings = {"relay-first", "always"})
    void tenThousandShortPairsOneAfterAnother(String policyName) throws Exception {
        SplicePolicy policy = policyName.equals("always") ? SplicePolicy.always() : RELAY_FIRST;
        AtomicLong spliceNanos = new AtomicLong();
        AtomicLong lookupNanos = new AtomicLong();
        AtomicLong lookups = new AtomicLong();
        SpliceProxy.HandOff timed = (splicer, client, upstream) -> {
            SocketChannel up = upstream.connect();
            if (client.socket().getPort() % 16 == 0) { // sample what the fd lookup alone costs
                long t = System.nanoTime();
                Sockets.fd(client);
                Sockets.fd(up);
                lookupNanos.addAndGet(System.nanoTime() - t);
                lookups.addAndGet(2);
            }
            long t = System.nanoTime();
            SplicedPair p = splicer.splice(client, up);
            spliceNanos.addAndGet(System.nanoTime() - t);
            return p;
        };
        byte[] hello = "hello, upstream".getBytes(StandardCharsets.US_ASCII);
        byte[] reply = new byte[1024];
        for (int i = 0; i < reply.length; i++) {
            reply[i] = (byte) ('a' + i % 26);
        }
        long connectNanos = 0;
        long exchangeNanos = 0;
        long endNanos = 0;
        try (Splicer splicer = Splicer.builder().policy(policy).create();
             ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SpliceProxy proxy = SpliceProxy.start(splicer, server.getLocalAddress(), timed)) {
            SocketAddress proxyAddress = proxy.address();
            long start = System.nanoTime();
            long deadline = start + BUDGET.toNanos();
            ByteBuffer buf = ByteBuffer.allocate(2048);
            for (int i = 0; i < PAIRS; i++) {
                long t0 = System.nanoTime();
                try (SocketChannel c = SocketChannel.open(proxyAddress); SocketChannel u = server.accept()) {
                    SplicedPair pair = proxy.nextPair(Duration.ofSeconds(10));
                    long t1 = System.nanoTime();
                    c.write(ByteBuffer.wrap(hello));
                    assertThat(readExactly(u, buf, hello.length)).as("pair %d", i).isEqualTo(hello);
                    u.write(ByteBuffer.wrap(reply));
                    assertThat(readExactly(c, buf, reply.length)).as("pair %d", i).isEqualTo(reply);
                    long t2 = System.nanoTime();
                    c.shutdownOutput();
                    assertThat(u.read(buf.clear())).as("pair %d: FIN at the upstream", i).isEqualTo(-1);
                    u.shutdownOutput();
                    assertThat(c.read(buf.clear())).as("pair %d: FIN at the client", i).isEqualTo(-1);
                    SplicedPair.Result r = pair.done().get(10, TimeUnit.SECONDS);
                    assertThat(r).as("pair %d", i)
                            .isEqualTo(new SplicedPair.Result(SplicedPair.End.COMPLETED, hello.length, reply.length));
                    long t3 = System.nanoTime();
                    connectNanos += t1 - t0;
                    exchangeNanos += t2 - t1;
                    endNanos += t3 - t2;
                }
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("only " + (i + 1) + " pairs in " + BUDGET);
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.printf("ManyPairsTest (" + policyName + "): %d pairs in %.1f s, %.0f us per pair: connect+accept+splice %.0f us "
                    + "(splice() %.0f us, of which fd lookup ~%.0f us per channel, fast path %s), bytes both ways "
                    + "%.0f us, FIN both ways + done() %.0f us%n", PAIRS, seconds, seconds * 1e6 / PAIRS,
                    connectNanos / 1e3 / PAIRS, spliceNanos.get() / 1e3 / PAIRS,
                    lookupNanos.get() / 1e3 / Math.max(1, lookups.get()), Sockets.fastFdLookup(),
                    exchangeNanos / 1e3 / PAIRS, endNanos / 1e3 / PAIRS);
            assertThat(proxy.errors()).isEmpty();
            assertThat(splicer.stats()).isEqualTo(new Splicer.Stats(0, PAIRS, (long) PAIRS * hello.length,
                    (long) PAIRS * reply.length, policy.immediate() ? PAIRS : 0));
            assertThat(SplicerMaps.of(splicer)).isEqualTo(SplicerMaps.Entries.NONE);
        }
    }

    static byte[] readExactly(SocketChannel ch, ByteBuffer buf, int n) throws Exception {
        buf.clear().limit(n);
        while (buf.hasRemaining()) {
            if (ch.read(buf) < 0) {
                throw new AssertionError("end of stream after " + buf.position() + " of " + n + " bytes");
            }
        }
        byte[] out = new byte[n];
        buf.flip().get(out);
        return out;
    }
}
