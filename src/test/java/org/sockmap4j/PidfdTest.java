package org.sockmap4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.testing.ChildProcess;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

/**
 * {@link Sockets#takeFrom} ({@code pidfd_open} + {@code pidfd_getfd}): taking a TCP socket from
 * a child JVM by its fd number, and the errors for a bad fd and a dead process.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(120)
class PidfdTest {

    private static final Duration WAIT = Duration.ofSeconds(60);

    /**
     * The child: connects to 127.0.0.1 at the port in args[0], prints {@code socket FD COOKIE
     * LOCALPORT}, then waits for {@code exit} (or the end of standard input) and exits.
     */
    public static final class Child {
        private Child() {}

        public static void main(String[] args) throws Exception {
            int port = Integer.parseInt(args[0]);
            try (SocketChannel tcp = SocketChannel.open(
                    new InetSocketAddress(InetAddress.getByName("127.0.0.1"), port))) {
                System.out.println("socket " + Sockets.fd(tcp) + " " + Sockets.cookie(tcp) + " "
                        + ((InetSocketAddress) tcp.getLocalAddress()).getPort());
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

    private static ServerSocketChannel loopbackServer() throws Exception {
        return ServerSocketChannel.open(StandardProtocolFamily.INET)
                .bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0));
    }

    private static String port(ServerSocketChannel server) throws Exception {
        return Integer.toString(((InetSocketAddress) server.getLocalAddress()).getPort());
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
    void takesTheChildsSocketAndInsertsIt() throws Exception {
        try (ServerSocketChannel server = loopbackServer();
                SockMap map = SockMap.create(1);
                ChildProcess child = ChildProcess.start(Child.class, port(server))) {
            String[] line = child.readLine(WAIT).split(" ");
            assertThat(line[0]).isEqualTo("socket");
            int childFd = Integer.parseInt(line[1]);
            long childCookie = Long.parseLong(line[2]);
            int childPort = Integer.parseInt(line[3]);

            try (SocketChannel accepted = server.accept()) {
                assertThat(((InetSocketAddress) accepted.getRemoteAddress()).getPort()).isEqualTo(childPort);
                try (SocketFd taken = Sockets.takeFrom(child.pid(), childFd)) {
                    assertThat(taken.cookie()).isEqualTo(childCookie);
                    // the child's socket is AF_INET6 (the JDK's default), the server's AF_INET
                    ConnectionKey serverEnd = ConnectionKey.of(accepted);
                    assertThat(ConnectionKey.of(taken.fd())).isEqualTo(new ConnectionKey(
                            SocketProbe.intOption(taken.fd(), SocketProbe.SO_DOMAIN), serverEnd.remote(),
                            serverEnd.local()));
                    map.put(0, taken.fd());
                    assertThat(map.cookie(0)).isEqualTo(childCookie);
                    assertThat(map.keys()).containsExactly(0);
                    // the same connection: what the server sends is queued on the taken fd
                    accepted.write(ByteBuffer.wrap("ping".getBytes(StandardCharsets.US_ASCII)));
                    assertThat(new String(SocketProbe.peekAtLeast(taken.fd(), 4), StandardCharsets.US_ASCII))
                            .isEqualTo("ping");
                }
                // the child keeps its own fd, so the socket and its entry stay
                assertThat(child.isAlive()).isTrue();
                assertThat(map.cookie(0)).isEqualTo(childCookie);

                // once the child exits, the socket's last fd is gone and so is the entry
                child.writeLine("exit");
                assertThat(child.waitFor(WAIT)).isZero();
                await(() -> !map.containsKey(0), "the entry of the child's closed socket is gone");
                assertThat(map.keys()).isEmpty();
            }
        }
    }

    @Test
    void takingTwiceGivesTwoFdsOfOneSocket() throws Exception {
        try (ServerSocketChannel server = loopbackServer();
                ChildProcess child = ChildProcess.start(Child.class, port(server))) {
            String[] line = child.readLine(WAIT).split(" ");
            int childFd = Integer.parseInt(line[1]);
            long childCookie = Long.parseLong(line[2]);
            try (SocketChannel accepted = server.accept();
                    SocketFd a = Sockets.takeFrom(child.pid(), childFd);
                    SocketFd b = Sockets.takeFrom(child.pid(), childFd)) {
                assertThat(accepted.isConnected()).isTrue();
                assertThat(a.fd()).isNotEqualTo(b.fd());
                assertThat(a.cookie()).isEqualTo(b.cookie()).isEqualTo(childCookie);
                assertThat(SocketProbe.inode(a.fd())).isEqualTo(SocketProbe.inode(b.fd()));
            }
        }
    }

    @Test
    void badFdIsEBADF() throws Exception {
        try (ServerSocketChannel server = loopbackServer();
                ChildProcess child = ChildProcess.start(Child.class, port(server))) {
            child.readLine(WAIT);
            try (SocketChannel accepted = server.accept()) {
                assertThat(accepted.isConnected()).isTrue();
                assertThatThrownBy(() -> Sockets.takeFrom(child.pid(), 1_000_000))
                        .isInstanceOfSatisfying(BpfException.class, e -> {
                            assertThat(e).isExactlyInstanceOf(BpfException.class);
                            assertThat(e.errno()).isEqualTo(Errno.EBADF);
                            assertThat(e.errnoCode()).isEqualTo(9);
                            assertThat(e.operation()).isEqualTo("pidfd_getfd");
                            assertThat(e.object()).contains("1000000").contains(Long.toString(child.pid()));
                            assertThat(e.hint()).isNotBlank();
                        });
                assertThatThrownBy(() -> Sockets.takeFrom(child.pid(), -1))
                        .isInstanceOfSatisfying(BpfException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EBADF));
            }
        }
    }

    @Test
    void deadPidIsESRCH() throws Exception {
        Process p = new ProcessBuilder("true").start();
        try {
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        } finally {
            p.destroyForcibly();
            p.getInputStream().close();
            p.getErrorStream().close();
            p.getOutputStream().close();
        }
        long pid = p.pid();
        // reaped: the pid is free (unless reused in the meantime, which would make this test moot)
        assumeThat(Path.of("/proc/" + pid)).doesNotExist();
        assertThatThrownBy(() -> Sockets.takeFrom(pid, 3)).isInstanceOfSatisfying(BpfException.class, e -> {
            assertThat(e.errno()).isEqualTo(Errno.ESRCH);
            assertThat(e.errnoCode()).isEqualTo(3);
            assertThat(e.operation()).isEqualTo("pidfd_open");
            assertThat(e.object()).contains(Long.toString(pid));
        });
    }
}
