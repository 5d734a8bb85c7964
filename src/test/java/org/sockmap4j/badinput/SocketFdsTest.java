package org.sockmap4j.badinput;

import static org.assertj.core.api.Assertions.assertThat;
import static org.sockmap4j.badinput.Refusal.assertKernelRefused;
import static org.sockmap4j.badinput.Refusal.assertRefused;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.sockmap4j.AttachMode;
import org.sockmap4j.AttachType;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfException;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Errno;
import org.sockmap4j.KeyCodec;
import org.sockmap4j.SkSkbProgram;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockMap;
import org.sockmap4j.Sockets;
import org.sockmap4j.UnsupportedSocketException;
import org.sockmap4j.internal.unix.Libc;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

/**
 * File descriptors a socket map cannot take, beyond those of SocketFamiliesTest (fd -1, an fd
 * never opened, a BPF map fd, TCP, UDP, UNIX and VSOCK sockets in the wrong state): a negative fd
 * in a 4-byte value, an fd closed before the insert, a file, sockets of the kinds the kernel never
 * takes, UDP into a map with a stream parser, and a closed JDK channel. Each refusal names the
 * map and the fd, and the map stays empty: the kernel kept nothing.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class SocketFdsTest {
    private static final String UPDATE = "BPF_MAP_UPDATE_ELEM";
    private static final String KINDS_HINT = "a socket map takes established or listening TCP, bound UDP";

    private static void assertEmpty(SockMap map) {
        for (int i = 0; i < map.maxEntries(); i++) {
            assertThat(map.containsKey(i)).as("slot %d of %s", i, map).isFalse();
        }
    }

    @Test
    void aNegativeFdInAFourByteValueIsEINVAL() {
        try (SockHash<Integer> hash = SockHash.builder(KeyCodec.u32()).name("neg_fd").valueSize(4).create()) {
            // as a u32 the kernel reads 0x80000000: above INT_MAX, refused before any fd lookup
            assertKernelRefused(() -> hash.put(7, Integer.MIN_VALUE), BpfException.class, Errno.EINVAL, UPDATE,
                    "sockhash 'neg_fd' (key 7, socket fd -2147483648)", "the fd is negative");
            assertThat(hash.keys()).isEmpty();
        }
    }

    @Test
    void anFdClosedBeforeTheInsertIsEBADF() throws IOException {
        try (SockMap map = SockMap.builder().name("closed_fd").create();
                ServerSocketChannel listener = listener()) {
            // a socket fd of our own, far above the numbers the JVM hands out (so none reuses it), then closed
            int high = openFilesLimit() / 2;
            int fd = Libc.fcntl(Sockets.fd(listener), Libc.F_DUPFD_CLOEXEC, high);
            assertThat(fd).isGreaterThanOrEqualTo(high);
            assertThat(Libc.close(fd)).isZero();
            assertKernelRefused(() -> map.put(0, fd), BpfException.class, Errno.EBADF, UPDATE,
                    "sockmap 'closed_fd' (index 0, socket fd " + fd + ")", "the socket fd is not open");
            assertEmpty(map);
        }
    }

    @Test
    void theFdOfAFileIsENOTSOCK() {
        int fd;
        try (Arena arena = Arena.ofConfined()) {
            fd = Libc.open(arena.allocateFrom("/dev/null"), Libc.O_RDONLY | Libc.O_CLOEXEC);
        }
        assertThat(fd).isNotNegative();
        try (SockMap map = SockMap.builder().name("file_fd").create()) {
            assertKernelRefused(() -> map.put(0, fd), BpfException.class, Errno.ENOTSOCK, UPDATE,
                    "sockmap 'file_fd' (index 0, socket fd " + fd + ")", "the fd is not a socket");
            assertEmpty(map);
        } finally {
            Libc.close(fd);
        }
    }

    static Stream<Arguments> kindsNeverTaken() {
        return Stream.of(
                Arguments.of("raw IPv4 ICMP", Libc.AF_INET, 3, 1),
                Arguments.of("raw IPv6 ICMPv6", Libc.AF_INET6, 3, 58),
                Arguments.of("UDP-Lite", Libc.AF_INET, Libc.SOCK_DGRAM, 136),
                Arguments.of("packet", 17, Libc.SOCK_DGRAM, 0),
                Arguments.of("netlink route", 16, 3, 0),
                Arguments.of("UNIX seqpacket", Libc.AF_UNIX, Libc.SOCK_SEQPACKET, 0));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("kindsNeverTaken")
    void aSocketOfAKindTheKernelNeverTakesIsEOPNOTSUPP(String kind, int domain, int type, int protocol) {
        int fd = Libc.socket(domain, type | Libc.SOCK_CLOEXEC, protocol);
        assertThat(fd).as("socket(%s)", kind).isNotNegative();
        try (SockMap map = SockMap.builder().name("kinds").maxEntries(2).create()) {
            assertKernelRefused(() -> map.put(1, fd), UnsupportedSocketException.class, Errno.EOPNOTSUPP, UPDATE,
                    "sockmap 'kinds' (index 1, socket fd " + fd + ")", KINDS_HINT);
            assertEmpty(map);
        } finally {
            Libc.close(fd);
        }
    }

    /**
     * 6.18 refuses a UDP socket in a map with a stream parser attached; 6.1 and 5.10 still took it
     * (the redirect matrix records the same): there the entry must be whole, else the refusal typed.
     */
    @Test
    void udpIntoAMapWithAStreamParserIsEOPNOTSUPP() throws IOException {
        try (BpfObject obj = BpfObject.openBundled("redirect").load();
                SockMap map = obj.sockMap("sock_map");
                SkSkbProgram parser = obj.skSkb("stream_parser");
                SkSkbProgram verdict = obj.skSkb("skb_pass");
                Attachment p = parser.attach(map, AttachType.SK_SKB_STREAM_PARSER, AttachMode.PROG_ATTACH);
                Attachment v = verdict.attach(map, AttachType.SK_SKB_STREAM_VERDICT, AttachMode.PROG_ATTACH);
                DatagramChannel udp = DatagramChannel.open()) {
            udp.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)); // a map without a parser takes it
            if (acceptedByAnOlderKernel(map, udp)) {
                return;
            }
            assertKernelRefused(() -> map.put(0, udp), UnsupportedSocketException.class, Errno.EOPNOTSUPP, UPDATE,
                    "sockmap 'sock_map' (index 0, socket fd ", "a map with a stream parser attached takes TCP only");
            assertEmpty(map);
        }
    }

    /** Tries the insert: true (and the entry checked, then removed) if the kernel took it. */
    private static boolean acceptedByAnOlderKernel(SockMap map, DatagramChannel udp) {
        try {
            map.put(0, udp);
        } catch (UnsupportedSocketException refused) {
            return false; // asserted in full by the caller, which tries again
        }
        assertThat(map.cookie(0)).isEqualTo(org.sockmap4j.Sockets.cookie(udp));
        map.delete(0);
        return true;
    }

    @Test
    void aClosedSocketChannelIsRefusedNamingTheMapAndKey() throws IOException {
        SocketChannel closed = SocketChannel.open();
        closed.close();
        try (SockMap map = SockMap.builder().name("closed_chan").create()) {
            assertRefused(() -> map.put(0, closed), IllegalArgumentException.class, "SockMap.put",
                    "sockmap 'closed_chan' (key 0): the channel is closed", "pass an open channel");
            assertEmpty(map);
        }
    }

    /** The soft RLIMIT_NOFILE of this process, from /proc/self/limits. */
    private static int openFilesLimit() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
            if (line.startsWith("Max open files")) {
                return Integer.parseInt(line.substring("Max open files".length()).trim().split("\\s+")[0]);
            }
        }
        throw new IllegalStateException("no 'Max open files' in /proc/self/limits");
    }

    private static ServerSocketChannel listener() throws IOException {
        ServerSocketChannel l = ServerSocketChannel.open();
        l.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        return l;
    }
}
