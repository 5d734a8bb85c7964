package org.sockmap4j.cli;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.security.MessageDigest;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.testing.ChildProcess;
import org.sockmap4j.testing.FdLeakCheck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.sockmap4j.cli.Cli.T;

/**
 * {@code sockmap proxy --mode copy}: between a client and an echo server of this test, all on
 * loopback, the bytes come back intact; on a signal it reports connections and bytes and exits 0.
 * Needs no privileges (copy mode is a plain Java relay).
 */
@ExtendWith(FdLeakCheck.class)
class ProxyCliTest {
    private static final int MIB = 1 << 20;
    /** {@code ready proxy listen=ADDRESS upstream=ADDRESS mode=copy}; ADDRESS possibly with a leading '/'. */
    private static final Pattern READY =
            Pattern.compile("ready proxy listen=/?(127\\.0\\.0\\.1):(\\d+) upstream=/?127\\.0\\.0\\.1:(\\d+) mode=(copy|splice)(?: framing=(skb_verdict|stream_parser) policy=(always|auto\\(\\d+B,\\d+ms\\)))?");

    private ServerSocketChannel echo;
    private Thread echoAcceptor;

    @BeforeEach
    void startEchoServer() throws IOException {
        echo = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        echoAcceptor = Thread.ofPlatform().name("echo-acceptor").start(() -> {
            while (echo.isOpen()) {
                SocketChannel c;
                try {
                    c = echo.accept();
                } catch (IOException e) {
                    return;
                }
                Thread.ofVirtual().start(() -> {
                    try (c) {
                        ByteBuffer b = ByteBuffer.allocate(32 * 1024);
                        while (c.read(b) >= 0) {
                            b.flip();
                            while (b.hasRemaining()) {
                                c.write(b);
                            }
                            b.clear();
                        }
                    } catch (IOException ignored) {
                        // connection reset: the test notices
                    }
                });
            }
        });
    }

    @AfterEach
    void stopEchoServer() throws Exception {
        echo.close();
        echoAcceptor.join(5000);
    }

    private int echoPort() throws IOException {
        return ((InetSocketAddress) echo.getLocalAddress()).getPort();
    }

    /** Sends {@code data} through {@code to}, reads everything back until EOF, returns it. */
    private static byte[] roundTrip(InetSocketAddress to, byte[] data) throws Exception {
        try (SocketChannel c = SocketChannel.open(to)) {
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    ByteBuffer out = ByteBuffer.wrap(data);
                    while (out.hasRemaining()) {
                        c.write(out);
                    }
                    c.shutdownOutput();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }, r -> Thread.ofVirtual().start(r));
            ByteBuffer in = ByteBuffer.allocate(data.length + 1);
            while (c.read(in) >= 0) {
                if (!in.hasRemaining()) {
                    break; // more than was sent: the assertion will say so
                }
            }
            writer.get(30, TimeUnit.SECONDS);
            byte[] back = new byte[in.position()];
            in.flip().get(back);
            return back;
        }
    }

    private static byte[] sha256(byte[] b) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(b);
    }

    @Test
    @Timeout(150)
    void copyModeRelaysOneMebibyteIntactAndSigtermReports() throws Exception {
        byte[] data = new byte[MIB];
        new Random(42).nextBytes(data);
        try (ChildProcess cli = Cli.start("proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:" + echoPort(),
                "--mode", "copy", "--duration", "60")) {
            String ready = cli.readLine(T);
            Matcher m = READY.matcher(ready);
            assertThat(m.matches()).as("ready line '%s'", ready).isTrue();
            int port = Integer.parseInt(m.group(2));
            assertThat(port).isPositive();
            assertThat(Integer.parseInt(m.group(3))).isEqualTo(echoPort());

            byte[] back = roundTrip(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), data);
            assertThat(back.length).isEqualTo(MIB);
            assertThat(sha256(back)).isEqualTo(sha256(data));

            Cli.signal(cli, "TERM");
            String stopped = cli.readLine(T);
            assertThat(stopped).matches("stopped connections=\\d+ bytes=\\d+");
            assertThat(Cli.field(stopped, "connections")).isEqualTo(1);
            assertThat(Cli.field(stopped, "bytes")).as("both directions").isEqualTo(2L * MIB);
            assertThat(Cli.exitStatus(cli, T)).as("exit status; stderr: %s", cli.stderr()).isZero();
            assertThat(cli.stderr()).isEmpty();
        }
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"skb_verdict,auto", "stream_parser,auto", "skb_verdict,always",
        "stream_parser,always"})
    @org.sockmap4j.testing.Privileged
    @Timeout(150)
    void spliceModeRelaysSixteenMebibytesIntactThroughTheKernel(String framing, String policy) throws Exception {
        if (framing.equals("skb_verdict")) {
            org.sockmap4j.testing.KernelAssume.has(org.sockmap4j.KernelFeatures.Feature.ATTACH_SK_SKB_VERDICT);
        }
        // 16 MiB: more than the sockets' buffers hold (the Splicer fixes 4 MiB, doubled), so the
        // client is still sending when the pair can switch (1 MiB fit whole, with the client's
        // FIN, before the upstream had connected: a socket that got FIN cannot enter the maps)
        byte[] data = new byte[16 * MIB];
        new Random(42).nextBytes(data);
        try (ChildProcess cli = Cli.start("proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:" + echoPort(),
                "--mode", "splice", "--framing", framing, "--policy", policy, "--sockbuf", "262144", "--duration", "60")) {
            String ready = cli.readLine(T);
            Matcher m = READY.matcher(ready);
            assertThat(m.matches()).as("ready line '%s'", ready).isTrue();
            assertThat(m.group(5)).isEqualTo(framing);
            assertThat(m.group(6)).startsWith(policy);
            int port = Integer.parseInt(m.group(2));
            assertThat(port).isPositive();
            assertThat(Integer.parseInt(m.group(3))).isEqualTo(echoPort());

            byte[] back = roundTrip(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), data);
            assertThat(back.length).isEqualTo(data.length);
            assertThat(sha256(back)).isEqualTo(sha256(data));

            Cli.signal(cli, "TERM");
            String stopped = cli.readLine(T);
            assertThat(stopped).matches("stopped connections=\\d+ bytes=\\d+ spliced=\\d+");
            assertThat(Cli.field(stopped, "connections")).isEqualTo(1);
            assertThat(Cli.field(stopped, "bytes")).as("both directions").isEqualTo(2L * data.length);
            // 16 MiB each way: past the auto policy's 64 KiB, so the kernel carried it either way
            assertThat(Cli.field(stopped, "spliced")).as("connections handed to the kernel").isEqualTo(1);
            assertThat(Cli.exitStatus(cli, T)).as("exit status; stderr: %s", cli.stderr()).isZero();
            assertThat(cli.stderr()).isEmpty();
        }
    }

    @Test
    @Timeout(150)
    void severalConnectionsAndSigint() throws Exception {
        try (ChildProcess cli = Cli.start("proxy", "--listen", "localhost:0", "--upstream", "127.0.0.1:" + echoPort())) {
            String ready = cli.readLine(T);
            Matcher m = READY.matcher(ready);
            assertThat(m.matches()).as("ready line '%s'", ready).isTrue();
            InetSocketAddress proxy = new InetSocketAddress(InetAddress.getLoopbackAddress(), Integer.parseInt(m.group(2)));
            long total = 0;
            for (int i = 0; i < 3; i++) {
                byte[] data = new byte[1000 * (i + 1)];
                new Random(i).nextBytes(data);
                assertThat(roundTrip(proxy, data)).isEqualTo(data);
                total += 2L * data.length;
            }
            assertThat(cli.isAlive()).as("runs until a signal").isTrue();
            Cli.signal(cli, "INT");
            String stopped = cli.readLine(T);
            assertThat(Cli.field(stopped, "connections")).isEqualTo(3);
            assertThat(Cli.field(stopped, "bytes")).isEqualTo(total);
            assertThat(Cli.exitStatus(cli, T)).as("exit status; stderr: %s", cli.stderr()).isZero();
        }
    }

    @Test
    @Timeout(150)
    void durationEndsItAndThePortIsReleased() throws Exception {
        try (ChildProcess cli = Cli.start("proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:" + echoPort(),
                "--duration", "1")) {
            Matcher m = READY.matcher(cli.readLine(T));
            assertThat(m.matches()).isTrue();
            int port = Integer.parseInt(m.group(2));
            assertThat(cli.readLine(T)).isEqualTo("stopped connections=0 bytes=0");
            assertThat(Cli.exitStatus(cli, T)).as("exit status; stderr: %s", cli.stderr()).isZero();
            // nothing listens there any more
            try (ServerSocketChannel again = ServerSocketChannel.open()) {
                again.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            }
        }
    }
}
