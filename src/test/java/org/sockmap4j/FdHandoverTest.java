package org.sockmap4j;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.testing.ChildProcess;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

/**
 * Fd handover with SCM_RIGHTS between two processes: a child JVM connects a TCP socket to a
 * loopback server of this test and sends that socket over a UNIX socket; this process receives
 * it, inserts it into a SOCKHASH and a SOCKMAP, and the entry outlives the child because the
 * received fd keeps the socket alive. Closing the received fd removes the entry.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(120)
class FdHandoverTest {

    private static final Duration WAIT = Duration.ofSeconds(60);

    /**
     * The child: args are the TCP port on 127.0.0.1 and the UNIX socket path. Connects to both,
     * sends the TCP socket over the UNIX one, prints {@code sent COOKIE LOCALPORT}, then waits
     * for {@code exit} (or the end of its standard input) and exits with status 0.
     */
    public static final class Child {
        private Child() {}

        public static void main(String[] args) throws Exception {
            int port = Integer.parseInt(args[0]);
            Path path = Path.of(args[1]);
            try (SocketChannel tcp = SocketChannel.open(StandardProtocolFamily.INET); // AF_INET, like the server
                    SocketChannel unix = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
                tcp.connect(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), port));
                long cookie = Sockets.cookie(tcp);
                Sockets.send(unix, tcp);
                System.out.println("sent " + cookie + " " + ((InetSocketAddress) tcp.getLocalAddress()).getPort());
                System.out.flush();
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                String line;
                while ((line = in.readLine()) != null && !line.equals("exit")) {
                    // wait
                }
            }
            System.exit(0);
        }
    }

    private Path dir;
    private Path socketPath;

    @BeforeEach
    void makeDir() throws IOException {
        dir = Files.createTempDirectory("sockmap4j-handover");
        socketPath = dir.resolve("handover.sock");
    }

    @AfterEach
    void removeDir() throws IOException {
        Files.deleteIfExists(socketPath);
        Files.deleteIfExists(dir);
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(10);
        }
    }

    @Test
    void receivedSocketStaysInTheMapsAfterTheSenderExits() throws Exception {
        runHandover(false);
    }

    @Test
    void receivedSocketStaysInTheMapsAfterTheSenderIsKilled() throws Exception {
        runHandover(true);
    }

    @SuppressWarnings("try") // child.close() inside its try: that is the kill
    private void runHandover(boolean kill) throws Exception {
        InetAddress lo = InetAddress.getByName("127.0.0.1");
        try (ServerSocketChannel tcpServer = ServerSocketChannel.open(StandardProtocolFamily.INET)
                        .bind(new InetSocketAddress(lo, 0));
                ServerSocketChannel unixServer = ServerSocketChannel.open(StandardProtocolFamily.UNIX)
                        .bind(UnixDomainSocketAddress.of(socketPath));
                SockHash<ConnectionKey> hash = SockHash.create(ConnectionKey.codec(), 4);
                SockMap map = SockMap.create(2);
                ChildProcess child = ChildProcess.start(Child.class,
                        Integer.toString(((InetSocketAddress) tcpServer.getLocalAddress()).getPort()),
                        socketPath.toString())) {
            // the child has connected to both servers and sent the fd once it says so
            String[] sent = child.readLine(WAIT).split(" ");
            assertThat(sent[0]).isEqualTo("sent");
            long childCookie = Long.parseLong(sent[1]);
            int childPort = Integer.parseInt(sent[2]);

            try (SocketChannel accepted = tcpServer.accept(); SocketChannel unix = unixServer.accept()) {
                assertThat(((InetSocketAddress) accepted.getRemoteAddress()).getPort()).isEqualTo(childPort);
                ConnectionKey key = ConnectionKey.of(accepted).reversed(); // the child's end
                SocketFd received = Sockets.receive(unix);
                try {
                    long cookie = received.cookie();
                    assertThat(cookie).isEqualTo(childCookie);
                    assertThat(ConnectionKey.of(received.fd())).isEqualTo(key);
                    assertThat(key.local().getPort()).isEqualTo(childPort);

                    hash.put(key, received.fd());
                    map.put(1, received.fd());
                    assertThat(hash.cookie(key)).isEqualTo(cookie);
                    assertThat(map.cookie(1)).isEqualTo(cookie);

                    if (kill) {
                        child.close(); // SIGKILL and wait
                        assertThat(child.isAlive()).isFalse();
                    } else {
                        child.writeLine("exit");
                        assertThat(child.waitFor(WAIT)).isZero();
                    }
                    assertThat(Path.of("/proc/" + child.pid() + "/fd")).doesNotExist();

                    // the child's fd is gone, ours keeps the socket and its map entries
                    assertThat(hash.cookie(key)).isEqualTo(cookie);
                    assertThat(map.cookie(1)).isEqualTo(cookie);
                    assertThat(hash.keys()).containsExactly(key);
                    assertThat(map.keys()).containsExactly(1);
                    // and the connection still works, end to end
                    accepted.write(ByteBuffer.wrap("still here".getBytes(StandardCharsets.US_ASCII)));
                    assertThat(new String(SocketProbe.peekAtLeast(received.fd(), 10), StandardCharsets.US_ASCII))
                            .isEqualTo("still here");
                } finally {
                    received.close();
                }
                // the last fd closed: the socket closes and leaves both maps by itself
                await(() -> !hash.containsKey(key), "the sockhash entry is gone");
                await(() -> !map.containsKey(1), "the sockmap entry is gone");
                assertThat(hash.keys()).isEmpty();
                assertThat(map.keys()).isEmpty();
            }
        }
    }
}
