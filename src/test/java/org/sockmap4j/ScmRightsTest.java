package org.sockmap4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.testing.FdLeakCheck;

/**
 * {@link Sockets#send} and {@link Sockets#receive} (SCM_RIGHTS) within one process, over a
 * connected pair of UNIX stream channels. No privilege needed.
 */
@ExtendWith(FdLeakCheck.class)
@Timeout(30)
class ScmRightsTest {

    private Path dir;
    private ServerSocketChannel unixServer;
    private SocketChannel via;   // sends
    private SocketChannel other; // receives
    private ServerSocketChannel tcpServer;
    private SocketChannel tcp;
    private SocketChannel tcpAccepted;

    @BeforeEach
    void connect() throws IOException {
        dir = Files.createTempDirectory("sockmap4j-scm");
        Path path = dir.resolve("pair.sock");
        unixServer = ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(path));
        via = SocketChannel.open(UnixDomainSocketAddress.of(path));
        other = unixServer.accept();
        tcpServer = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0));
        tcp = SocketChannel.open(tcpServer.getLocalAddress());
        tcpAccepted = tcpServer.accept();
    }

    @AfterEach
    void close() throws IOException {
        for (var c : new java.nio.channels.Channel[] {tcpAccepted, tcp, tcpServer, other, via, unixServer}) {
            if (c != null) {
                c.close();
            }
        }
        if (dir != null) {
            Files.deleteIfExists(dir.resolve("pair.sock"));
            Files.deleteIfExists(dir);
        }
    }

    private static final long O_CLOEXEC = 02000000;

    /** The open-file flags of {@code fd} from /proc/self/fdinfo (octal there). */
    private static long fdFlags(int fd) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd))) {
            if (line.startsWith("flags:")) {
                return Long.parseLong(line.substring(6).trim(), 8);
            }
        }
        throw new AssertionError("no flags in fdinfo of " + fd);
    }

    @Test
    void receivedSocketIsTheSentOne() throws Exception {
        long cookie = Sockets.cookie(tcp);
        int tcpFd = Sockets.fd(tcp);
        Sockets.send(via, tcp);
        try (SocketFd received = Sockets.receive(other)) {
            assertThat(received.isClosed()).isFalse();
            assertThat(received.fd()).isNotEqualTo(tcpFd).isPositive();
            assertThat(SocketProbe.inode(received.fd())).isEqualTo(SocketProbe.inode(tcpFd));
            assertThat(received.cookie()).isEqualTo(cookie);
            assertThat(ConnectionKey.of(received.fd())).isEqualTo(ConnectionKey.of(tcp));
            // the same connection: bytes for tcp are visible through the received fd
            tcpAccepted.write(ByteBuffer.wrap("hello".getBytes(StandardCharsets.US_ASCII)));
            assertThat(new String(SocketProbe.peekAtLeast(received.fd(), 5), StandardCharsets.US_ASCII))
                    .isEqualTo("hello");
            // close-on-exec, as documented
            assertThat(fdFlags(received.fd()) & O_CLOEXEC).isNotZero();
        }
        // the sender keeps its fd and the socket
        assertThat(tcp.isOpen()).isTrue();
        assertThat(Sockets.cookie(tcp)).isEqualTo(cookie);
    }

    @Test
    void sendByFdAndReceiveSeveral() throws Exception {
        ServerSocketChannel listener = tcpServer;
        Sockets.send(via, Sockets.fd(tcp));
        Sockets.send(via, listener);
        Sockets.send(via, tcpAccepted);
        try (SocketFd a = Sockets.receive(other); SocketFd b = Sockets.receive(other);
                SocketFd c = Sockets.receive(other)) {
            assertThat(a.cookie()).isEqualTo(Sockets.cookie(tcp));
            assertThat(b.cookie()).isEqualTo(Sockets.cookie(listener));
            assertThat(c.cookie()).isEqualTo(Sockets.cookie(tcpAccepted));
            assertThat(a.fd()).isNotIn(b.fd(), c.fd());
        }
    }

    @Test
    void sendsInTheOtherDirectionAndSendsUdpAndUnixSockets() throws Exception {
        try (DatagramChannel udp = DatagramChannel.open()) {
            udp.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0));
            Sockets.send(other, udp);
            Sockets.send(other, via);
            try (SocketFd u = Sockets.receive(via); SocketFd self = Sockets.receive(via)) {
                assertThat(u.cookie()).isEqualTo(Sockets.cookie(udp));
                assertThat(self.cookie()).isEqualTo(Sockets.cookie(via));
            }
        }
    }

    @Test
    void socketFdCloseIsIdempotent() throws Exception {
        Sockets.send(via, tcp);
        SocketFd received = Sockets.receive(other);
        int n = received.fd();
        assertThat(received.toString()).contains("fd " + n);
        received.close();
        assertThat(received.isClosed()).isTrue();
        received.close();
        assertThatThrownBy(received::fd).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(received::cookie).isInstanceOf(IllegalStateException.class);
        assertThat(received.toString()).contains("closed");
        // the original is untouched
        assertThat(Sockets.cookie(tcp)).isPositive();
    }

    @Test
    void messageWithoutAnFdIsEBADMSG() throws Exception {
        via.write(ByteBuffer.wrap(new byte[] {'x'}));
        assertThatThrownBy(() -> Sockets.receive(other)).isInstanceOfSatisfying(BpfException.class, e -> {
            assertThat(e).isExactlyInstanceOf(BpfException.class);
            assertThat(e.errnoCode()).isEqualTo(74);
            assertThat(e.errno()).isEqualTo(Errno.UNKNOWN);
            assertThat(e.operation()).isEqualTo("recvmsg(SCM_RIGHTS)");
        });
        // the channel still works for a following fd
        Sockets.send(via, tcp);
        try (SocketFd received = Sockets.receive(other)) {
            assertThat(received.cookie()).isEqualTo(Sockets.cookie(tcp));
        }
    }

    @Test
    void aMessageFromSocketProbeWithOneFdIsReceived() throws Exception {
        SocketProbe.sendFds(Sockets.fd(via), Sockets.fd(tcp));
        try (SocketFd received = Sockets.receive(other)) {
            assertThat(received.cookie()).isEqualTo(Sockets.cookie(tcp));
        }
    }

    /**
     * Library bug: FdPassing.receive has room for exactly CMSG_SPACE(sizeof(int)) = 24 bytes of
     * control data, which CMSG_LEN(2 * sizeof(int)) = 24 also fits. When a peer sends two fds in
     * one message the kernel installs both in this process; receive() returns the first and the
     * second stays open with no owner (a leak). With three or more fds the kernel installs two,
     * sets MSG_CTRUNC, and receive() returns EBADMSG leaking both.
     */
    @Test
    void extraFdsInOneMessageAreNotLeaked() throws Exception {
        var before = FdLeakCheck.snapshot();
        SocketProbe.sendFds(Sockets.fd(via), Sockets.fd(tcp), Sockets.fd(tcpAccepted));
        try (SocketFd received = Sockets.receive(other)) {
            assertThat(received.cookie()).isEqualTo(Sockets.cookie(tcp));
        } catch (BpfException refused) {
            // refusing a message with several fds is fine too, as long as none is left open
        }
        SocketProbe.sendFds(Sockets.fd(via), Sockets.fd(tcp), Sockets.fd(tcpAccepted), Sockets.fd(tcpServer));
        try (SocketFd received = Sockets.receive(other)) {
            assertThat(received.cookie()).isEqualTo(Sockets.cookie(tcp));
        } catch (BpfException refused) {
            // idem
        }
        var leaks = new FdLeakCheck().leaksSince(before);
        leaks.keySet().forEach(org.sockmap4j.internal.unix.Libc::close); // keep the class-level leak check clean
        assertThat(leaks).isEmpty();
    }

    @Test
    void peerClosedIsECONNRESET() throws Exception {
        via.close();
        assertThatThrownBy(() -> Sockets.receive(other)).isInstanceOfSatisfying(BpfException.class,
                e -> assertThat(e.errnoCode()).isEqualTo(104));
    }

    @Test
    void sendingABadFdFails() {
        assertThatThrownBy(() -> Sockets.send(via, 1_000_000)).isInstanceOfSatisfying(BpfException.class, e -> {
            assertThat(e.errno()).isEqualTo(Errno.EBADF);
            assertThat(e.operation()).isEqualTo("sendmsg(SCM_RIGHTS)");
        });
    }
}
