package org.sockmap4j.programs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.function.Predicate;
import java.util.zip.CRC32;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.sockmap4j.AttachType;
import org.sockmap4j.Counters;
import org.sockmap4j.programs.ConnectedPair.Kind;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;
import static org.sockmap4j.programs.RedirectFixture.eventually;

/**
 * What a reader sees of data that went through a verdict program of the bundled {@code redirect}
 * object: FIONREAD, EOF after a peer's shutdown, MSG_PEEK, drops, and a bulk transfer through the
 * stream parser. The socket under test ({@code mapped}) is in {@code sock_map}; its peer writes.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class DataPathTest {
    private static final int WAIT_MILLIS = 3000;

    @TempDir
    Path dir;

    private RedirectFixture f;

    @BeforeEach
    void setUp() {
        f = new RedirectFixture();
    }

    @AfterEach
    void tearDown() {
        f.close();
    }

    private static byte[] bytes(int n, int seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] concat(byte[]... parts) {
        ByteBuffer b = ByteBuffer.allocate(Arrays.stream(parts).mapToInt(p -> p.length).sum());
        for (byte[] p : parts) {
            b.put(p);
        }
        return b.array();
    }

    private static void sendAll(int fd, byte[] data) {
        assertThat(RawSockets.send(fd, data, 0)).isEqualTo(data.length);
    }

    private boolean countersReach(Predicate<Counters.Snapshot> p) {
        return eventually(() -> p.test(f.counters.snapshot()), WAIT_MILLIS);
    }

    // ---- FIONREAD ----

    /** skb_pass on TCP: FIONREAD (ioctl and the JDK's available()) is every byte queued. */
    @Test
    void tcpFionreadIsEveryByteQueued() throws Exception {
        f.skSkb("skb_pass", AttachType.SK_SKB_VERDICT);
        try (ConnectedPair p = ConnectedPair.open(Kind.TCP, dir)) {
            p.insert(f.map, 0);
            byte[] a = bytes(100, 1), b = bytes(200, 2), c = bytes(300, 3);
            sendAll(p.peer, a);
            sendAll(p.peer, b);
            sendAll(p.peer, c);
            assertThat(countersReach(s -> s.passedBytes() == 600)).as("600 bytes passed the verdict").isTrue();
            assertThat(eventually(() -> RawSockets.fionread(p.mapped) == 600, WAIT_MILLIS)).isTrue();
            assertThat(RawSockets.fionread(p.mapped)).isEqualTo(600);
            assertThat(((SocketChannel) p.mappedChannel()).socket().getInputStream().available()).isEqualTo(600);

            assertThat(RawSockets.readExactly(p.mapped, 600, WAIT_MILLIS)).isEqualTo(concat(a, b, c));
            assertThat(RawSockets.fionread(p.mapped)).isZero();
        }
    }

    /**
     * skb_pass on UDP: FIONREAD is the size of the next datagram, then of the one after (where
     * udp_bpf_ioctl exists, as on 6.18; on 6.1 FIONREAD does not see the psock queue and says 0
     * throughout). The datagrams arrive whole and in order either way.
     */
    @Test
    void udpFionreadIsTheSizeOfTheNextDatagram() throws Exception {
        f.skSkb("skb_pass", AttachType.SK_SKB_VERDICT);
        try (ConnectedPair p = ConnectedPair.open(Kind.UDP, dir)) {
            p.insert(f.map, 0);
            byte[] first = bytes(100, 4), second = bytes(40, 5);
            sendAll(p.peer, first);
            sendAll(p.peer, second);
            assertThat(countersReach(s -> s.passedMessages() == 2)).isTrue();

            int before = RawSockets.fionread(p.mapped);
            assertThat(before).as("FIONREAD: the next datagram, or 0 without udp_bpf_ioctl").isIn(100, 0);
            boolean seesPsockQueue = before == 100;
            RawSockets.Received r = RawSockets.recv(p.mapped, 100, RawSockets.MSG_DONTWAIT);
            assertThat(r.data()).isEqualTo(first);
            assertThat(RawSockets.fionread(p.mapped)).isEqualTo(seesPsockQueue ? 40 : 0);
            assertThat(RawSockets.recv(p.mapped, 100, RawSockets.MSG_DONTWAIT).data()).isEqualTo(second);
            assertThat(RawSockets.fionread(p.mapped)).isZero();
        }
    }

    /**
     * Kernel behaviour on 6.18: a recv with room for more than one datagram returns the verdict-
     * queued datagrams concatenated (udp_bpf_recvmsg and unix_bpf_recvmsg copy from the psock
     * queue with sk_msg_recvmsg, which does not stop at message ends). Datagram boundaries are lost.
     */
    @ParameterizedTest
    @EnumSource(value = Kind.class, names = {"UDP", "UNIX_DGRAM"})
    void datagramsQueuedByTheVerdictAreReadAsOneStream(Kind kind) throws Exception {
        f.skSkb("skb_pass", AttachType.SK_SKB_VERDICT);
        try (ConnectedPair p = ConnectedPair.open(kind, dir)) {
            p.insert(f.map, 0);
            byte[] first = bytes(100, 6), second = bytes(40, 7);
            sendAll(p.peer, first);
            sendAll(p.peer, second);
            assertThat(countersReach(s -> s.passedMessages() == 2)).isTrue();

            assertThat(RawSockets.recv(p.mapped, 1000, RawSockets.MSG_DONTWAIT).data()).isEqualTo(concat(first, second));
            assertThat(RawSockets.recv(p.mapped, 1000, RawSockets.MSG_DONTWAIT).errno()).isEqualTo(RawSockets.EAGAIN);
        }
    }

    /**
     * Kernel behaviour on 6.18: FIONREAD on a UNIX socket counts only its receive queue, not the
     * psock queue the pass verdict moved the data to: it says 0 while recv returns the data.
     */
    @ParameterizedTest
    @EnumSource(value = Kind.class, names = {"UNIX_STREAM", "UNIX_DGRAM"})
    void unixFionreadDoesNotCountDataQueuedByTheVerdict(Kind kind) throws Exception {
        f.skSkb("skb_pass", AttachType.SK_SKB_VERDICT);
        try (ConnectedPair p = ConnectedPair.open(kind, dir)) {
            p.insert(f.map, 0);
            byte[] data = bytes(100, 8);
            sendAll(p.peer, data);
            assertThat(countersReach(s -> s.passedBytes() == 100)).isTrue();

            assertThat(RawSockets.readable(p.mapped, 0)).isTrue();
            assertThat(RawSockets.fionread(p.mapped)).isZero();
            assertThat(RawSockets.recv(p.mapped, 1000, RawSockets.MSG_DONTWAIT).data()).isEqualTo(data);
        }
    }

    /** skb_drop: the drop is counted, FIONREAD is 0, poll never reports POLLIN, recv says EAGAIN. */
    @ParameterizedTest
    @EnumSource(value = Kind.class, names = {"TCP", "UDP", "UNIX_STREAM", "UNIX_DGRAM"})
    void dropLeavesNothingToRead(Kind kind) throws Exception {
        f.skSkb("skb_drop", AttachType.SK_SKB_VERDICT);
        try (ConnectedPair p = ConnectedPair.open(kind, dir)) {
            p.insert(f.map, 0);
            sendAll(p.peer, bytes(100, 9));
            sendAll(p.peer, bytes(40, 10));
            assertThat(countersReach(s -> s.droppedBytes() == 140)).as("140 bytes dropped").isTrue();

            assertThat(RawSockets.fionread(p.mapped)).isZero();
            assertThat(RawSockets.readable(p.mapped, 200)).isFalse();
            assertThat(RawSockets.recv(p.mapped, 1000, RawSockets.MSG_DONTWAIT).errno()).isEqualTo(RawSockets.EAGAIN);
            assertThat(f.counters.snapshot().passedMessages()).isZero();
        }
    }

    // ---- EOF ----

    /** TCP with skb_pass: the peer's shutdown(SHUT_WR) reaches the reader as EOF after all the data. */
    @Test
    void tcpPeerShutdownGivesEofAfterTheData() throws Exception {
        f.skSkb("skb_pass", AttachType.SK_SKB_VERDICT);
        try (ConnectedPair p = ConnectedPair.open(Kind.TCP, dir)) {
            p.insert(f.map, 0);
            byte[] data = bytes(1000, 11);
            sendAll(p.peer, data);
            assertThat(RawSockets.shutdown(p.peer, RawSockets.SHUT_WR)).isZero();

            assertThat(RawSockets.readable(p.mapped, WAIT_MILLIS)).as("POLLIN").isTrue();
            SocketChannel reader = (SocketChannel) p.mappedChannel();
            ByteBuffer got = ByteBuffer.allocate(data.length);
            while (got.hasRemaining()) {
                assertThat(reader.read(got)).as("no EOF before the data").isPositive();
            }
            assertThat(got.array()).isEqualTo(data);
            assertThat(reader.read(ByteBuffer.allocate(16))).isEqualTo(-1);
            assertThat(RawSockets.recv(p.mapped, 16, RawSockets.MSG_DONTWAIT).eof()).isTrue();
            assertThat(f.map.keys()).as("still in the map").containsExactly(0);
            assertThat(f.counters.snapshot().passedBytes()).isEqualTo(data.length);
        }
    }

    /**
     * Kernel behaviour on 6.18 (data loss): a UNIX stream peer's shutdown(SHUT_WR) unhashes the
     * reader (unix_shutdown calls the peer's sk_prot->unhash, which is sock_map_unhash), so the
     * reader leaves the map and its psock is dropped together with the data the pass verdict had
     * queued there. The reader gets EOF at once; the bytes never arrive.
     */
    @Test
    void unixStreamPeerShutdownDropsDataTheVerdictQueued() throws Exception {
        f.skSkb("skb_pass", AttachType.SK_SKB_VERDICT);
        try (ConnectedPair p = ConnectedPair.open(Kind.UNIX_STREAM, dir)) {
            p.insert(f.map, 0);
            sendAll(p.peer, bytes(100, 12));
            assertThat(countersReach(s -> s.passedBytes() == 100)).isTrue();
            assertThat(RawSockets.readable(p.mapped, 0)).isTrue();

            assertThat(RawSockets.shutdown(p.peer, RawSockets.SHUT_WR)).isZero();
            assertThat(f.map.keys()).as("the reader left the map").isEmpty();
            assertThat(RawSockets.readable(p.mapped, WAIT_MILLIS)).isTrue();
            assertThat(((SocketChannel) p.mappedChannel()).read(ByteBuffer.allocate(1000))).isEqualTo(-1);
        }
    }

    /** The same without a verdict program: the socket leaves the map too, but the data is read before EOF. */
    @Test
    void unixStreamPeerShutdownWithoutAVerdictKeepsTheData() throws Exception {
        try (ConnectedPair p = ConnectedPair.open(Kind.UNIX_STREAM, dir)) {
            p.insert(f.map, 0);
            byte[] data = bytes(100, 13);
            sendAll(p.peer, data);
            assertThat(RawSockets.shutdown(p.peer, RawSockets.SHUT_WR)).isZero();
            assertThat(f.map.keys()).isEmpty();
            assertThat(RawSockets.readExactly(p.mapped, 100, WAIT_MILLIS)).isEqualTo(data);
            assertThat(RawSockets.recv(p.mapped, 16, RawSockets.MSG_DONTWAIT).eof()).isTrue();
        }
    }

    // ---- MSG_PEEK ----

    /**
     * Data redirected by redir_ingress_to_local from a TCP source into a target of each kind:
     * MSG_PEEK returns it without consuming it (FIONREAD unchanged, a second peek and then a recv
     * return the same bytes), after which the queue is empty.
     */
    @ParameterizedTest
    @EnumSource(value = Kind.class, names = {"TCP", "UDP", "UNIX_STREAM", "UNIX_DGRAM"})
    void peekWorksOnRedirectedData(Kind targetKind) throws Exception {
        f.config.set(0, 1);
        f.skSkb("redir_ingress_to_local", AttachType.SK_SKB_VERDICT);
        try (ConnectedPair src = ConnectedPair.open(Kind.TCP, dir);
             ConnectedPair dst = ConnectedPair.open(targetKind, dir)) {
            src.insert(f.map, 0);
            dst.insert(f.map, 1);
            byte[] data = "peek at me, twice".getBytes(StandardCharsets.US_ASCII);
            sendAll(src.peer, data);
            assertThat(countersReach(s -> s.redirectedBytes() == data.length)).isTrue();
            assertThat(RawSockets.readable(dst.mapped, WAIT_MILLIS)).isTrue();

            int before = RawSockets.fionread(dst.mapped);
            int peekFlags = RawSockets.MSG_PEEK | RawSockets.MSG_DONTWAIT;
            assertThat(RawSockets.recv(dst.mapped, 100, peekFlags).data()).isEqualTo(data);
            assertThat(RawSockets.fionread(dst.mapped)).isEqualTo(before);
            assertThat(RawSockets.recv(dst.mapped, 100, peekFlags).data()).isEqualTo(data);
            assertThat(RawSockets.recv(dst.mapped, 100, RawSockets.MSG_DONTWAIT).data()).isEqualTo(data);
            assertThat(RawSockets.recv(dst.mapped, 100, RawSockets.MSG_DONTWAIT).errno()).isEqualTo(RawSockets.EAGAIN);
            assertThat(RawSockets.readable(src.mapped, 0)).as("nothing left at the source").isFalse();
        }
    }

    // ---- bulk through the stream parser ----

    private static final int MIB = 1 << 20;
    private static final int PIECE = 64 << 10;

    /**
     * stream_parser + skb_pass: 1 MiB written in 64 KiB writes arrives intact and in order, each
     * piece read before the next is written (CRC32 of the whole compared too), and the verdict
     * counts exactly 1 MiB passed.
     */
    @Test
    void oneMebibyteThroughTheStreamParserArrivesIntactInOrder() throws Exception {
        f.skSkb("stream_parser", AttachType.SK_SKB_STREAM_PARSER);
        f.skSkb("skb_pass", AttachType.SK_SKB_STREAM_VERDICT);
        byte[] data = bytes(MIB, 14);
        try (ConnectedPair p = ConnectedPair.open(Kind.TCP, dir)) {
            p.insert(f.map, 0);
            SocketChannel out = (SocketChannel) p.peerChannel();
            CRC32 received = new CRC32();
            for (int off = 0; off < MIB; off += PIECE) {
                ByteBuffer b = ByteBuffer.wrap(data, off, PIECE);
                while (b.hasRemaining()) {
                    out.write(b);
                }
                byte[] got = RawSockets.readExactly(p.mapped, PIECE, WAIT_MILLIS);
                assertThat(got).as("piece at offset " + off).isEqualTo(Arrays.copyOfRange(data, off, off + PIECE));
                received.update(got);
            }
            CRC32 sent = new CRC32();
            sent.update(data);
            assertThat(received.getValue()).isEqualTo(sent.getValue());
            assertThat(RawSockets.hasData(p.mapped, 100)).isFalse();
            assertThat(f.counters.snapshot().passedBytes()).isEqualTo(MIB);
            assertThat(f.counters.snapshot().droppedMessages()).isZero();
        }
    }

    // Not a test: on 6.18, stream_parser + stream_verdict with a writer that does not wait for the
    // reader leaves the tail of a 1 MiB transfer stuck in about 1 transfer in 10 (a kernel bug; see
    // the team's notes on issue 3). The lock-step transfer above is what the suite asserts.
}
