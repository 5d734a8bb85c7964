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

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sockmap4j.SplicePolicy;
import org.sockmap4j.SplicedPair;
import org.sockmap4j.Splicer;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A server that talks first (a banner, a push, a download) to a client that does not read yet:
 * the earlier hand-off copied the upstream's bytes towards the client on the splicing thread,
 * blocked once the client's buffers were full (~9.7 MiB), and reset both sides after its 30 s
 * timeout. Now {@code splice} returns at once and nothing stalls or resets: what the client
 * cannot take waits (relayed: in the relay's pending bytes and TCP's buffers; spliced: in the
 * kernel's redirect queue, which has no limit yet, see docs/performance.md), and once the client
 * reads, everything arrives and the pair is in the kernel.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(120)
class SlowClientTest {
    static final long BYTES = 32L << 20;
    static final int CHUNK = 64 * 1024;

    @ParameterizedTest
    @ValueSource(strings = {"auto", "always"})
    void anUpstreamThatTalksFirstToAClientThatDoesNotReadYetLosesNothing(String policyName) throws Exception {
        SplicePolicy policy = policyName.equals("auto") ? SplicePolicy.auto() : SplicePolicy.always();
        try (Splicer splicer = Splicer.builder().policy(policy).create();
             ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SpliceProxy proxy = SpliceProxy.start(splicer, server.getLocalAddress(), SpliceProxy.PLAIN);
             ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
             SocketChannel client = SocketChannel.open(proxy.address());
             SocketChannel up = server.accept()) {
            Future<Streams.Digest> sent = threads.submit(() -> {
                Streams.Digest d = Streams.send(up, 7, BYTES, CHUNK);
                up.shutdownOutput();
                return d;
            });
            long t0 = System.nanoTime();
            SplicedPair pair = proxy.nextPair(Duration.ofSeconds(10));
            assertThat(pair.timeline().spliceCall()).as("splice() did not wait for the client")
                    .isLessThan(TimeUnit.SECONDS.toNanos(1));
            Thread.sleep(1500); // the client reads nothing meanwhile
            assertThat(pair.done()).as("the pair is still open, nothing was reset").isNotDone();
            assertThat(Streams.receiveAndCompare(client, 7, BYTES, CHUNK)).as("upstream -> client").isNull();
            assertThat(sent.get(30, TimeUnit.SECONDS).bytes()).isEqualTo(BYTES);
            client.shutdownOutput();
            assertThat(up.read(ByteBuffer.allocate(16))).as("FIN at the upstream").isEqualTo(-1);
            SplicedPair.Result r = pair.done().get(30, TimeUnit.SECONDS);
            assertThat(r).isEqualTo(new SplicedPair.Result(SplicedPair.End.COMPLETED, 0, BYTES));
            assertThat(pair.timeline().spliced()).as("went to the kernel once the client read (after %d ms)",
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isPositive();
            assertThat(proxy.errors()).isEmpty();
        }
    }
}
