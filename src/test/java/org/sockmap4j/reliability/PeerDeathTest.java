package org.sockmap4j.reliability;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.AttachType;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Errno;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SkSkbProgram;
import org.sockmap4j.SockMap;
import org.sockmap4j.Sockets;
import org.sockmap4j.U32Array;
import org.sockmap4j.internal.unix.Libc;
import org.sockmap4j.testing.ChildProcess;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A peer process dies (SIGKILL) while the kernel redirects data to it: a TCP connection
 * {@code src} (client a1, accepted b1) in this JVM, a1 at index 0 of the {@code redirect} object's
 * SOCKMAP; a connection a2 to a child JVM that never reads, a2 at index 1 ({@code config[0] = 1}),
 * so the programs redirect to a2's egress, i.e. to the child.
 * <ul>
 * <li>SK_MSG (a1's sends): a sender blocked because the child stopped reading is woken by the
 *     child's death with EPIPE, and later sends fail with EPIPE while a2 stays in the map, with
 *     EACCES (the program's redirect finds no socket: SK_DROP) once a2 is closed, and go their
 *     normal way to b1 once a1 is removed from the map.</li>
 * <li>SK_SKB (b1's sends, verdict on a1's receive side): the sender never blocks and is never told;
 *     what the kernel cannot send on to the dead peer is dropped, and nothing reaches a1 until a1
 *     is removed from the map.</li>
 * </ul>
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(90)
class PeerDeathTest {
    private static final Duration CHILD = Duration.ofSeconds(60);
    private static final int CHUNK = 16 * 1024;
    /** Bounds every send loop: far more than loopback TCP buffers hold. */
    private static final long MAX_BYTES = 256L * 1024 * 1024;
    private static final boolean KEEPS_UNHASHED = atLeast64();

    private static boolean atLeast64() {
        String[] v = System.getProperty("os.version").split("[.-]");
        int ma = Integer.parseInt(v[0]);
        int mi = Integer.parseInt(v[1].replaceAll("\\D.*", ""));
        return ma > 6 || ma == 6 && mi >= 4;
    }

    /** Sends {@code CHUNK}-byte writes on {@code fd} until one fails or {@code limit} bytes went; returns -errno or 0. */
    private static long sendUntilError(int fd, long limit, AtomicLong sent) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(CHUNK);
            while (sent.get() < limit) {
                long r = Libc.send(fd, buf, Libc.MSG_NOSIGNAL);
                if (r < 0) {
                    return r;
                }
                sent.addAndGet(r);
            }
            return 0;
        }
    }

    private static long sendNow(int fd, int bytes) {
        try (Arena arena = Arena.ofConfined()) {
            return Libc.send(fd, arena.allocate(bytes), Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT);
        }
    }

    private static int readable(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment n = arena.allocate(JAVA_INT);
            assertThat(Libc.ioctl(fd, Libc.FIONREAD, n)).isZero();
            return n.get(JAVA_INT, 0);
        }
    }

    private static boolean waitFor(java.util.function.BooleanSupplier c, Duration d) throws InterruptedException {
        long deadline = System.nanoTime() + d.toNanos();
        while (!c.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(10);
        }
        return true;
    }

    /** The redirect object's map and config, a connection to a silent child at index 1. */
    private record Setup(BpfObject obj, SockMap map, U32Array config, ServerSocketChannel server, ChildProcess child,
            SocketChannel toChild) implements AutoCloseable {
        static Setup open() throws Exception {
            BpfObject obj = BpfObject.openBundled("redirect").load();
            SockMap map = obj.sockMap("sock_map");
            U32Array config = obj.u32Array("config");
            ServerSocketChannel server = ServerSocketChannel.open()
                    .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1);
            ChildProcess child = ChildProcess.start(SilentPeer.class,
                    Integer.toString(((InetSocketAddress) server.getLocalAddress()).getPort()));
            SocketChannel toChild = server.accept();
            assertThat(child.readLine(CHILD)).isEqualTo("connected");
            config.set(0, 1);
            return new Setup(obj, map, config, server, child, toChild);
        }

        @Override
        public void close() throws Exception {
            try (obj; map; config; server; child; toChild) {
                // all closed
            }
        }
    }

    private static void kill(ChildProcess child) {
        child.process().destroyForcibly();
        assertThat(child.waitFor(CHILD)).isEqualTo(128 + 9);
    }

    @Test
    void aSkMsgSenderBlockedOnADeadPeerGetsEpipeAndTheMapKeepsWorking() throws Exception {
        try (Setup s = Setup.open(); TcpPair src = TcpPair.open();
             SkMsgProgram prog = s.obj().skMsg("redir_send_to_egress");
             Attachment attached = prog.attach(s.map())) {
            s.map().put(0, src.client());
            s.map().put(1, s.toChild());
            int a1 = Sockets.fd(src.client());
            int b1 = Sockets.fd(src.accepted());

            AtomicLong sent = new AtomicLong();
            long[] result = {1};
            Thread writer = Thread.ofPlatform().start(() -> result[0] = sendUntilError(a1, MAX_BYTES, sent));
            // the child does not read: the sender blocks once the buffers on the way are full
            boolean blocked = false;
            for (long prev = -1, deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                    !blocked && System.nanoTime() < deadline && writer.isAlive(); ) {
                Thread.sleep(200);
                long now = sent.get();
                blocked = now > 0 && now == prev; // no progress for 200 ms
                prev = now;
            }
            assertThat(blocked).as("sender blocked after %d bytes", sent.get()).isTrue();
            assertThat(writer.isAlive()).isTrue();
            assertThat(readable(b1)).as("nothing took the normal way to b1").isZero();

            kill(s.child());

            writer.join(Duration.ofSeconds(10));
            assertThat(writer.isAlive()).as("sender still blocked after the peer died").isFalse();
            if (KEEPS_UNHASHED) {
                assertThat(result[0]).as("the blocked send").isEqualTo(-Errno.EPIPE.code());
                assertThat(s.map().keys()).as("the reset target stays in the map").containsExactly(0, 1);
                assertThat(sendNow(a1, 100)).isEqualTo(-Errno.EPIPE.code());
            } else {
                // 6.1 reports the dead peer's reset itself (ECONNRESET)
                assertThat(result[0]).isIn((long) -Errno.EPIPE.code(), (long) -Errno.EACCES.code(),
                        (long) -Errno.ECONNRESET.code());
            }

            s.toChild().close();
            assertThat(waitFor(() -> s.map().keys().equals(List.of(0)), Duration.ofSeconds(5))).isTrue();
            assertThat(sendNow(a1, 100)).as("redirect to an empty slot: dropped").isEqualTo(-Errno.EACCES.code());

            s.map().delete(0);
            assertThat(sendNow(a1, 100)).isEqualTo(100);
            assertThat(waitFor(() -> readable(b1) == 100, Duration.ofSeconds(5))).as("a1 -> b1 again").isTrue();
        }
    }

    @Test
    void anSkSkbSenderToADeadPeerIsNeverBlockedAndItsDataIsDropped() throws Exception {
        try (Setup s = Setup.open(); TcpPair src = TcpPair.open();
             SkSkbProgram prog = s.obj().skSkb("redir_ingress_to_egress");
             Attachment attached = prog.attach(s.map(), AttachType.SK_SKB_VERDICT)) {
            s.map().put(0, src.client());
            s.map().put(1, s.toChild());
            int a1 = Sockets.fd(src.client());
            int b1 = Sockets.fd(src.accepted());

            long limit = 32L * 1024 * 1024;
            AtomicLong before = new AtomicLong();
            assertThat(sendUntilError(b1, limit, before)).as("sends while the peer lives but never reads").isZero();
            kill(s.child());
            AtomicLong after = new AtomicLong();
            assertThat(sendUntilError(b1, limit, after)).as("sends after the peer died").isZero();
            assertThat(after.get()).isEqualTo(limit);
            Thread.sleep(100);
            assertThat(readable(a1)).as("the verdict took everything; nothing reached a1").isZero();
            if (KEEPS_UNHASHED) {
                assertThat(s.map().keys()).containsExactly(0, 1);
            }

            s.map().delete(0);
            assertThat(sendNow(b1, 100)).isEqualTo(100);
            assertThat(waitFor(() -> readable(a1) == 100, Duration.ofSeconds(5))).as("b1 -> a1 again").isTrue();
        }
    }
}
