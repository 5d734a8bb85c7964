package org.sockmap4j.programs;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.BpfException;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.Errno;
import org.sockmap4j.AttachMode;
import org.sockmap4j.AttachType;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Counters;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SkSkbProgram;
import org.sockmap4j.SockMap;
import org.sockmap4j.U32Array;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The four redirect modes of the talk's cheatsheet with TCP on loopback. Two connections:
 * {@code a1<->b1} (the source: a1 is in the map with the program) and {@code a2<->b2} (the target
 * a2 is in the map at the index the program reads from its config array).
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class RedirectModesTest {
    private static final byte[] DATA = "sockmap says hello".getBytes(StandardCharsets.US_ASCII);

    private BpfObject obj;
    private SockMap map;
    private U32Array config;
    private Counters counters;
    private ServerSocketChannel server;
    private SocketChannel a1, b1, a2, b2;

    @BeforeEach
    void setUp() throws IOException {
        obj = BpfObject.openBundled("redirect").load();
        map = obj.sockMap("sock_map");
        config = obj.u32Array("config");
        counters = obj.counters("counters");
        config.set(0, 1);
        server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        a1 = SocketChannel.open(server.getLocalAddress());
        b1 = server.accept();
        a2 = SocketChannel.open(server.getLocalAddress());
        b2 = server.accept();
    }

    @AfterEach
    void tearDown() throws IOException {
        for (AutoCloseable c : new AutoCloseable[] {a1, b1, a2, b2, server, counters, config, map, obj}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception ignored) {
                // keep closing the rest
            }
        }
    }

    private void insertSourceAndTarget() {
        map.put(0, a1);
        map.put(1, a2);
    }

    private static void send(SocketChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(DATA);
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** Reads exactly DATA.length bytes (blocking, bounded by the class timeout). */
    private static byte[] receive(SocketChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(DATA.length);
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                break;
            }
        }
        return b.array();
    }

    /** Bytes waiting in the socket's receive queue (FIONREAD via a non-blocking read attempt). */
    private static int pending(SocketChannel ch) throws IOException {
        ch.configureBlocking(false);
        try {
            ByteBuffer b = ByteBuffer.allocate(4096);
            int n = ch.read(b);
            return Math.max(n, 0);
        } finally {
            ch.configureBlocking(true);
        }
    }

    @Test
    void sendToLocalPutsTheMessageInTheTargetsReceiveQueue() throws Exception {
        try (SkMsgProgram p = obj.skMsg("redir_send_to_local"); Attachment at = p.attach(map)) {
            insertSourceAndTarget();
            send(a1);
            assertThat(receive(a2)).isEqualTo(DATA);
            assertThat(pending(b1)).isZero();
            assertThat(pending(b2)).isZero();
            assertThat(counters.snapshot().redirectedBytes()).isEqualTo(DATA.length);
        }
    }

    @Test
    void sendToEgressSendsTheMessageOutOfTheTarget() throws Exception {
        try (SkMsgProgram p = obj.skMsg("redir_send_to_egress"); Attachment at = p.attach(map)) {
            insertSourceAndTarget();
            send(a1);
            assertThat(receive(b2)).isEqualTo(DATA);
            assertThat(pending(b1)).isZero();
            assertThat(counters.snapshot().redirectedBytes()).isEqualTo(DATA.length);
        }
    }

    @Test
    void ingressToEgressForwardsReceivedDataOutOfTheTarget() throws Exception {
        try (SkSkbProgram p = obj.skSkb("redir_ingress_to_egress");
             Attachment at = p.attach(map, AttachType.SK_SKB_VERDICT)) {
            insertSourceAndTarget();
            send(b1); // arrives at a1, leaves through a2, arrives at b2
            assertThat(receive(b2)).isEqualTo(DATA);
            assertThat(pending(a1)).isZero();
            assertThat(counters.snapshot().redirectedBytes()).isEqualTo(DATA.length);
        }
    }

    @Test
    void ingressToLocalMovesReceivedDataToTheTargetsReceiveQueue() throws Exception {
        try (SkSkbProgram p = obj.skSkb("redir_ingress_to_local");
             Attachment at = p.attach(map, AttachType.SK_SKB_VERDICT)) {
            insertSourceAndTarget();
            send(b1); // arrives at a1, queued on a2
            assertThat(receive(a2)).isEqualTo(DATA);
            assertThat(pending(a1)).isZero();
            assertThat(counters.snapshot().redirectedBytes()).isEqualTo(DATA.length);
        }
    }

    @Test
    void attachingToAMapThatAlreadyHoldsSocketsIsRefused() throws Exception {
        map.put(0, a1);
        try (SkMsgProgram p = obj.skMsg("msg_pass")) {
            assertThatThrownBy(() -> p.attach(map))
                    .isInstanceOf(IllegalStateException.class);
            if (KernelFeatures.probe().has(KernelFeatures.Feature.PROG_QUERY_SOCKMAP)) {
                assertThat(map.attachedPrograms(AttachType.SK_MSG_VERDICT)).isEmpty();
            }
        }
    }

    @Test
    void skbVerdictAndStreamVerdictExcludeEachOther() throws Exception {
        try (SkSkbProgram v = obj.skSkb("skb_pass"); SkSkbProgram s = obj.skSkb("skb_drop");
             Attachment first = v.attach(map, AttachType.SK_SKB_VERDICT)) {
            assertThatThrownBy(() -> s.attach(map, AttachType.SK_SKB_STREAM_VERDICT))
                    .isInstanceOfSatisfying(BpfException.class,
                            e -> assertThat(e.errno()).isEqualTo(Errno.EBUSY));
        }
        try (SkSkbProgram v = obj.skSkb("skb_pass"); SkSkbProgram s = obj.skSkb("skb_drop");
             Attachment first = s.attach(map, AttachType.SK_SKB_STREAM_VERDICT)) {
            assertThatThrownBy(() -> v.attach(map, AttachType.SK_SKB_VERDICT))
                    .isInstanceOfSatisfying(BpfException.class,
                            e -> assertThat(e.errno()).isEqualTo(Errno.EBUSY));
        }
    }

    @Test
    void attachDetachShowsInProgQueryForLinksAndProgAttach() throws Exception {
        org.sockmap4j.testing.KernelAssume.has(KernelFeatures.Feature.SOCKMAP_LINK);
        for (AttachMode mode : new AttachMode[] {
                AttachMode.LINK, AttachMode.PROG_ATTACH}) {
            try (SkMsgProgram p = obj.skMsg("msg_pass")) {
                assertThat(map.attachedPrograms(AttachType.SK_MSG_VERDICT)).isEmpty();
                try (Attachment at = p.attach(map, mode)) {
                    assertThat(at.isLink()).isEqualTo(mode == AttachMode.LINK);
                    assertThat(map.attachedPrograms(AttachType.SK_MSG_VERDICT)).containsExactly(p.id());
                }
                assertThat(map.attachedPrograms(AttachType.SK_MSG_VERDICT)).isEmpty();
            }
        }
    }
}
