package org.sockmap4j.programs;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.sockmap4j.AttachMode;
import org.sockmap4j.AttachType;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Counters;
import org.sockmap4j.Program;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SockMap;
import org.sockmap4j.U32Array;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;
import static org.sockmap4j.programs.AttachSemanticsTest.attach;
import static org.sockmap4j.programs.AttachSemanticsTest.program;

/**
 * The kernel gives each socket the map's programs when the socket is inserted, and keeps them
 * with the socket: BPF_LINK_UPDATE and detaching change only what sockets inserted later get.
 * (The other side of the attach-before-insert rule.) Shown with data on loopback TCP and with
 * the programs' counters.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class SocketsKeepTheirProgramsTest {
    private static final byte[] DATA = "inserted before".getBytes(StandardCharsets.US_ASCII);

    private BpfObject obj;
    private SockMap map;
    private U32Array config;
    private Counters counters;
    private ServerSocketChannel server;
    private SocketChannel a1, b1, a2, b2, a3, b3;

    @BeforeEach
    void setUp() throws IOException {
        obj = BpfObject.openBundled("redirect").load();
        map = obj.sockMap("sock_map");
        config = obj.u32Array("config");
        counters = obj.counters("counters");
        config.set(0, 1); // redirect programs target index 1
        server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        a1 = SocketChannel.open(server.getLocalAddress());
        b1 = server.accept();
        a2 = SocketChannel.open(server.getLocalAddress());
        b2 = server.accept();
        a3 = SocketChannel.open(server.getLocalAddress());
        b3 = server.accept();
    }

    @AfterEach
    void tearDown() {
        for (AutoCloseable c : new AutoCloseable[] {a1, b1, a2, b2, a3, b3, server, counters, config, map, obj}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception ignored) {
                // keep closing the rest
            }
        }
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

    /** Bytes waiting now (non-blocking read). */
    private static int pending(SocketChannel ch) throws IOException {
        ch.configureBlocking(false);
        try {
            return Math.max(ch.read(ByteBuffer.allocate(4096)), 0);
        } finally {
            ch.configureBlocking(true);
        }
    }

    @Test
    void linkUpdateReachesOnlySocketsInsertedAfterIt() throws IOException {
        org.sockmap4j.testing.KernelAssume.has(org.sockmap4j.KernelFeatures.Feature.SOCKMAP_LINK);
        try (SkMsgProgram pass = obj.skMsg("msg_pass");
             SkMsgProgram egress = obj.skMsg("redir_send_to_egress");
             Attachment link = pass.attach(map, AttachMode.LINK)) {
            map.put(0, a1);
            map.put(1, a2); // the redirect target
            link.update(egress, pass);
            assertThat(map.attachedPrograms(AttachType.SK_MSG_VERDICT)).containsExactly(egress.id());

            send(a1); // inserted before the update: still msg_pass
            assertThat(receive(b1)).isEqualTo(DATA);
            assertThat(counters.snapshot().passedMessages()).isEqualTo(1);
            assertThat(counters.snapshot().redirectedMessages()).isZero();

            map.put(2, a3); // inserted after the update: redir_send_to_egress, out of a2 to b2
            send(a3);
            assertThat(receive(b2)).isEqualTo(DATA);
            assertThat(pending(b3)).isZero();
            assertThat(counters.snapshot().redirectedBytes()).isEqualTo(DATA.length);
            assertThat(counters.snapshot().passedMessages()).isEqualTo(1);
        }
    }

    static Stream<Arguments> verdictTypesAndModes() {
        return Stream.of(AttachType.SK_MSG_VERDICT, AttachType.SK_SKB_VERDICT)
                .flatMap(t -> Stream.of(Arguments.of(t, AttachMode.LINK), Arguments.of(t, AttachMode.PROG_ATTACH)));
    }

    /**
     * msg_pass / skb_pass count what they pass. After the detach the program still runs for a
     * socket inserted before it; once the socket is removed and inserted again it runs no more.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("verdictTypesAndModes")
    void detachingLeavesSocketsInsertedEarlierRunningTheProgram(AttachType type, AttachMode mode) throws IOException {
        if (mode == AttachMode.LINK) org.sockmap4j.testing.KernelAssume.has(org.sockmap4j.KernelFeatures.Feature.SOCKMAP_LINK);
        boolean msg = type == AttachType.SK_MSG_VERDICT;
        // sk_msg runs on a1's sends; sk_skb on what a1 receives
        SocketChannel sender = msg ? a1 : b1;
        SocketChannel receiver = msg ? b1 : a1;
        try (Program p = program(obj, type, msg ? "msg_pass" : "skb_pass")) {
            try (Attachment at = attach(p, map, type, mode)) {
                map.put(0, a1);
                send(sender);
                assertThat(receive(receiver)).isEqualTo(DATA);
                assertThat(counters.snapshot().passedMessages()).isEqualTo(1);
            }
            assertThat(map.attachedPrograms(type)).isEmpty();

            send(sender);
            assertThat(receive(receiver)).isEqualTo(DATA);
            assertThat(counters.snapshot().passedMessages()).as("runs after the detach").isEqualTo(2);

            map.delete(0);
            map.put(0, a1);
            send(sender);
            assertThat(receive(receiver)).isEqualTo(DATA);
            assertThat(counters.snapshot().passedMessages()).as("not run after re-inserting").isEqualTo(2);
        }
    }
}
