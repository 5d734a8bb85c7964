package org.sockmap4j.programs;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.sockmap4j.AttachType;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Counters;
import org.sockmap4j.Errno;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SkSkbProgram;
import org.sockmap4j.SockMap;
import org.sockmap4j.Sockets;
import org.sockmap4j.U32Array;
import org.sockmap4j.UnsupportedSocketException;
import org.sockmap4j.programs.ConnectedPair.Kind;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.KernelAssume;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The redirect matrix beyond TCP to TCP (which {@link RedirectModesTest} covers): each of the four
 * modes of the bundled {@code redirect} object, from each socket kind the mode accepts as a source
 * into each kind of target, and into targets the kernel refuses (a listening TCP socket, a bound
 * but unconnected UDP socket, an empty slot). For every combination one message is sent and the
 * test finds out where the kernel put it: out of the target to the target's peer, into the
 * target's receive queue, to the socket it was addressed to, or nowhere; plus the sender's errno
 * and the program's counters. Each case prints one {@code MATRIX} line; the class prints a summary.
 *
 * <p>Source and target are both in {@code sock_map} (source at 0, target at 1, {@code config[0] = 1}).
 * The sk_skb modes attach at SK_SKB_VERDICT, again at SK_SKB_STREAM_VERDICT without a parser,
 * and (TCP only, see {@link #withAStreamParserOnlyTcpSocketsEnterTheMap}) with stream_parser; the
 * message is sent by the source's peer and received by the source. The sk_msg modes' message is
 * sent by the source itself (sk_msg runs only in TCP's sendmsg).
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class RedirectMatrixTest {
    private static final int SOURCE = 0;
    private static final int TARGET = 1;
    /** How long a message may take to show up anywhere. */
    private static final int ARRIVAL_MILLIS = 3000;
    /** After it showed up (or was counted as dropped): how long nothing else may arrive. */
    private static final int SETTLE_MILLIS = 300;

    private static final Map<String, String> RESULTS = new ConcurrentSkipListMap<>();

    /** The four modes of the cheatsheet, as programs of the bundled object. */
    enum Mode {
        SEND_TO_LOCAL("redir_send_to_local", true),
        SEND_TO_EGRESS("redir_send_to_egress", true),
        INGRESS_TO_EGRESS("redir_ingress_to_egress", false),
        INGRESS_TO_LOCAL("redir_ingress_to_local", false);

        final String program;
        final boolean skMsg;

        Mode(String program, boolean skMsg) {
            this.program = program;
            this.skMsg = skMsg;
        }
    }

    /** How an sk_skb mode's program is attached. */
    enum Verdict {
        /** At SK_SKB_VERDICT: a verdict on each skb (TCP, UDP, UNIX). */
        SKB_VERDICT,
        /** At SK_SKB_STREAM_VERDICT without a parser: the kernel runs it like an skb verdict. */
        STREAM_VERDICT,
        /** stream_parser at SK_SKB_STREAM_PARSER plus the program at SK_SKB_STREAM_VERDICT (strparser). */
        PARSER_AND_STREAM_VERDICT
    }

    /** Where the message was found. */
    enum Landing {
        /** Sent out of the target: read by the target's peer. */
        TARGET_PEER,
        /** Queued on the target: read from the target itself. */
        TARGET,
        /** Not redirected: read by the socket it was addressed to (the source, or for sk_msg the source's peer). */
        ORIGINAL,
        /** Came back to the socket that sent it (never seen; listed so the test would say so). */
        SENDER,
        /** Read nowhere. */
        NOWHERE
    }

    /** What happened to one message. */
    record Outcome(int length, Landing landing, int sendErrno, Counters.Snapshot counters, Map<String, Integer> bytesAt) {
        String describe() {
            return landing + (sendErrno != 0 ? " send errno " + sendErrno : "") + " (counters: redirected "
                    + counters.redirectedMessages() + "/" + counters.redirectedBytes() + "B, dropped "
                    + counters.droppedMessages() + "/" + counters.droppedBytes() + "B) bytes at " + bytesAt;
        }
    }

    @TempDir
    Path dir;

    private BpfObject obj;
    private SockMap map;
    private U32Array config;
    private Counters counters;
    private final List<AutoCloseable> closeLast = new ArrayList<>();

    @BeforeEach
    void setUp() {
        obj = BpfObject.openBundled("redirect").load();
        map = obj.sockMap("sock_map");
        config = obj.u32Array("config");
        counters = obj.counters("counters");
        config.set(0, TARGET);
    }

    @AfterEach
    void tearDown() {
        List<AutoCloseable> all = new ArrayList<>(closeLast);
        all.addAll(List.of(counters, config, map, obj));
        for (AutoCloseable c : all) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception ignored) {
                // keep closing the rest
            }
        }
    }

    @AfterAll
    static void printSummary() {
        StringBuilder line = new StringBuilder("MATRIX SUMMARY:");
        RESULTS.forEach((k, v) -> line.append(' ').append(k).append('=').append(v).append(';'));
        System.out.println(line);
    }

    // ---- the cases ----

    static Stream<Arguments> skSkbCombinations() {
        List<Arguments> out = new ArrayList<>();
        for (Verdict v : new Verdict[] {Verdict.SKB_VERDICT, Verdict.STREAM_VERDICT}) {
            for (Mode m : new Mode[] {Mode.INGRESS_TO_EGRESS, Mode.INGRESS_TO_LOCAL}) {
                for (Kind from : Kind.MATRIX) {
                    for (Kind to : Kind.MATRIX) {
                        out.add(Arguments.of(v, m, from, to));
                    }
                }
            }
        }
        return out.stream();
    }

    /**
     * sk_skb at SK_SKB_VERDICT, or at SK_SKB_STREAM_VERDICT with no parser, every source kind into
     * every connected target kind: on this kernel every combination redirects (ingress to egress:
     * the target's peer reads it; ingress to local: the target reads it), and the verdict counts
     * one redirected message.
     */
    @ParameterizedTest(name = "{0} {1} {2} -> {3}")
    @MethodSource("skSkbCombinations")
    void skSkbRedirectsFromEveryKindToEveryKind(Verdict verdict, Mode mode, Kind from, Kind to) throws Exception {
        if (from == Kind.UDP || to == Kind.UDP) {
            udpRedirects();
        }
        try (ConnectedPair src = ConnectedPair.open(from, dir); ConnectedPair dst = ConnectedPair.open(to, dir)) {
            Outcome o = run(mode, verdict, src, dst.mapped, dst.peer, () -> dst.insert(map, TARGET));
            record(mode, verdict, from.name(), to.name(), o);
            assertRedirected(mode, o);
        }
    }

    /** With a stream parser the TCP to TCP redirect works in both sk_skb modes. */
    @ParameterizedTest(name = "parser + stream verdict {0} TCP -> TCP")
    @EnumSource(value = Mode.class, names = {"INGRESS_TO_EGRESS", "INGRESS_TO_LOCAL"})
    void parserAndStreamVerdictRedirectTcpToTcp(Mode mode) throws Exception {
        try (ConnectedPair src = ConnectedPair.open(Kind.TCP, dir);
             ConnectedPair dst = ConnectedPair.open(Kind.TCP, dir)) {
            Outcome o = run(mode, Verdict.PARSER_AND_STREAM_VERDICT, src, dst.mapped, dst.peer,
                    () -> dst.insert(map, TARGET));
            record(mode, Verdict.PARSER_AND_STREAM_VERDICT, "TCP", "TCP", o);
            assertRedirected(mode, o);
        }
    }

    /**
     * With stream_parser + stream_verdict attached the map takes only TCP sockets on 6.18: inserting
     * UDP, UNIX stream or UNIX dgram (as source or target alike) fails with EOPNOTSUPP, so there is
     * no strparser redirect from or to them. Older kernels (6.1, 5.10) still take them; the test
     * accepts either, checks that the map agrees with the answer, and records which one it saw.
     */
    @ParameterizedTest(name = "parser attached: insert {0}")
    @EnumSource(value = Kind.class, names = {"TCP", "UDP", "UNIX_STREAM", "UNIX_DGRAM"})
    void withAStreamParserOnlyTcpSocketsEnterTheMap(Kind kind) throws Exception {
        try (SkSkbProgram parser = obj.skSkb("stream_parser"); SkSkbProgram verdict = obj.skSkb("skb_pass");
             Attachment p = parser.attach(map, AttachType.SK_SKB_STREAM_PARSER);
             Attachment v = verdict.attach(map, AttachType.SK_SKB_STREAM_VERDICT);
             ConnectedPair pair = ConnectedPair.open(kind, dir)) {
            assertThat(p.attachType()).isEqualTo(AttachType.SK_SKB_STREAM_PARSER);
            assertThat(v.attachType()).isEqualTo(AttachType.SK_SKB_STREAM_VERDICT);
            if (kind == Kind.TCP) {
                pair.insert(map, SOURCE);
                assertThat(map.keys()).containsExactly(SOURCE);
                RESULTS.put("stream_parser insert " + kind, "accepted");
            } else {
                String answer;
                try {
                    pair.insert(map, SOURCE);
                    answer = "accepted (before 6.18)";
                    assertThat(map.keys()).containsExactly(SOURCE);
                    assertThat(map.cookie(SOURCE)).isEqualTo(org.sockmap4j.Sockets.cookie(pair.mapped));
                } catch (UnsupportedSocketException e) {
                    answer = "EOPNOTSUPP";
                    assertThat(e.errno()).isEqualTo(Errno.EOPNOTSUPP);
                    assertThat(map.keys()).isEmpty();
                }
                RESULTS.put("stream_parser insert " + kind, answer);
            }
        }
    }

    /**
     * sk_msg from a TCP source: send to local queues the message on a target of any kind; send to
     * egress works only into TCP. Into UDP and UNIX targets bpf_msg_redirect_map refuses (SK_DROP,
     * counted as a drop) and the sender's send() fails with EACCES; nothing arrives anywhere.
     */
    @ParameterizedTest(name = "{0} TCP -> {1}")
    @MethodSource("skMsgCombinations")
    void skMsgFromTcpIntoEveryKind(Mode mode, Kind to) throws Exception {
        if (to == Kind.UDP) {
            udpRedirects();
        }
        try (ConnectedPair src = ConnectedPair.open(Kind.TCP, dir); ConnectedPair dst = ConnectedPair.open(to, dir)) {
            Outcome o = run(mode, src, dst.mapped, dst.peer, () -> dst.insert(map, TARGET));
            record(mode, "TCP", to.name(), o);
            if (mode == Mode.SEND_TO_LOCAL || to == Kind.TCP) {
                assertRedirected(mode, o);
            } else {
                assertRefusedAtSend(o);
            }
        }
    }

    /**
     * sk_msg programs run only in TCP's sendmsg: a UDP or UNIX source in the map sends as if no
     * program were attached. The message reaches the source's own peer and no verdict is counted.
     */
    @ParameterizedTest(name = "{0} {1} -> TCP")
    @MethodSource("skMsgFromNonTcp")
    void skMsgDoesNotRunForNonTcpSenders(Mode mode, Kind from) throws Exception {
        try (ConnectedPair src = ConnectedPair.open(from, dir); ConnectedPair dst = ConnectedPair.open(Kind.TCP, dir)) {
            Outcome o = run(mode, src, dst.mapped, dst.peer, () -> dst.insert(map, TARGET));
            record(mode, from.name(), "TCP", o);
            assertThat(o.sendErrno()).isZero();
            assertThat(o.landing()).isEqualTo(Landing.ORIGINAL);
            assertThat(o.bytesAt()).containsExactly(Map.entry("original", o.length()));
            assertThat(o.counters()).isEqualTo(new Counters.Snapshot(0, 0, 0, 0, 0, 0));
        }
    }

    /**
     * VSOCK (Linux 6.4+; connected stream and seqpacket sockets on the local CID, so the test
     * needs vsock_loopback: scripts/vmtest.sh loads it). The combinations the kernel's own
     * selftest (sockmap_redir.c) lists as supported: sk_skb ingress to egress from and to any
     * kind, and ingress to local from VSOCK into the other kinds (not into VSOCK; and sk_msg does
     * not redirect into VSOCK). Each must redirect the message whole, once.
     */
    @ParameterizedTest(name = "skb_verdict {0} {1} -> {2}")
    @MethodSource("vsockCombinations")
    void skSkbRedirectsFromAndToVsock(Mode mode, Kind from, Kind to) throws Exception {
        try (ConnectedPair src = ConnectedPair.open(from, dir); ConnectedPair dst = ConnectedPair.open(to, dir)) {
            Outcome o = run(mode, Verdict.SKB_VERDICT, src, dst.mapped, dst.peer, () -> dst.insert(map, TARGET));
            record(mode, Verdict.SKB_VERDICT, from.name(), to.name(), o);
            assertRedirected(mode, o);
        }
    }

    static Stream<Arguments> vsockCombinations() {
        List<Arguments> out = new ArrayList<>();
        for (Kind v : new Kind[] {Kind.VSOCK_STREAM, Kind.VSOCK_SEQPACKET}) {
            out.add(Arguments.of(Mode.INGRESS_TO_EGRESS, v, v));
            out.add(Arguments.of(Mode.INGRESS_TO_EGRESS, v, Kind.TCP));
            out.add(Arguments.of(Mode.INGRESS_TO_EGRESS, Kind.TCP, v));
            out.add(Arguments.of(Mode.INGRESS_TO_LOCAL, v, Kind.TCP));
            out.add(Arguments.of(Mode.INGRESS_TO_LOCAL, v, Kind.UNIX_STREAM));
        }
        return out.stream();
    }

    /**
     * Redirects from and to UDP sockets (udp_read_sock, the UDP psock proto) came in 5.13 in the
     * same patch series as BPF_SK_SKB_VERDICT; on 5.10 a UDP socket sits in a map, but redirects
     * to it land nowhere and from it do not run. The attach type's probe stands for the series.
     */
    private static void udpRedirects() {
        KernelAssume.has(KernelFeatures.Feature.ATTACH_SK_SKB_VERDICT, "which came with redirects to and from UDP");
    }

    static Stream<Arguments> skMsgFromNonTcp() {
        List<Arguments> out = new ArrayList<>();
        for (Mode m : new Mode[] {Mode.SEND_TO_LOCAL, Mode.SEND_TO_EGRESS}) {
            for (Kind from : new Kind[] {Kind.UDP, Kind.UNIX_STREAM, Kind.UNIX_DGRAM}) {
                out.add(Arguments.of(m, from));
            }
        }
        return out.stream();
    }

    static Stream<Arguments> skMsgCombinations() {
        List<Arguments> out = new ArrayList<>();
        for (Mode m : new Mode[] {Mode.SEND_TO_LOCAL, Mode.SEND_TO_EGRESS}) {
            for (Kind to : Kind.MATRIX) {
                out.add(Arguments.of(m, to));
            }
        }
        return out.stream();
    }

    /**
     * A listening TCP socket in the target slot: every mode's redirect helper refuses it
     * (sock_map_redirect_allowed). sk_msg: send() fails with EACCES; sk_skb: the message is
     * dropped (counted) and read nowhere, and the TCP sender sees no error.
     */
    @ParameterizedTest(name = "{0} TCP -> listening TCP")
    @EnumSource(Mode.class)
    void redirectToAListeningSocketDrops(Mode mode) throws Exception {
        try (ConnectedPair src = ConnectedPair.open(Kind.TCP, dir);
             ServerSocketChannel listener = ServerSocketChannel.open()) {
            listener.bind(new InetSocketAddress("127.0.0.1", 0));
            Outcome o = run(mode, src, Sockets.fd(listener), -1, () -> map.put(TARGET, listener));
            record(mode, "TCP", "TCP_LISTENER", o);
            assertDroppedByTheHelper(mode, o);
        }
    }

    /**
     * A bound but unconnected UDP socket in the target slot (the map takes it) is refused by every
     * redirect helper like a listener: only established sockets are redirect targets.
     */
    @ParameterizedTest(name = "{0} TCP -> unconnected UDP")
    @EnumSource(Mode.class)
    void redirectToAnUnconnectedUdpSocketDrops(Mode mode) throws Exception {
        try (ConnectedPair src = ConnectedPair.open(Kind.TCP, dir);
             DatagramChannel unconnected = DatagramChannel.open()) {
            unconnected.bind(new InetSocketAddress("127.0.0.1", 0));
            Outcome o = run(mode, src, Sockets.fd(unconnected), -1, () -> map.put(TARGET, unconnected));
            record(mode, "TCP", "UDP_UNCONNECTED", o);
            assertDroppedByTheHelper(mode, o);
        }
    }

    /** config[0] names an empty slot: the helper finds no socket and every mode drops. */
    @ParameterizedTest(name = "{0} TCP -> empty slot")
    @EnumSource(Mode.class)
    void redirectToAnEmptySlotDrops(Mode mode) throws Exception {
        try (ConnectedPair src = ConnectedPair.open(Kind.TCP, dir)) {
            Outcome o = run(mode, src, -1, -1, () -> { });
            record(mode, "TCP", "EMPTY_SLOT", o);
            assertDroppedByTheHelper(mode, o);
        }
    }

    @Test
    void everySocketKindIsAcceptedAsBothSourceAndTarget() throws Exception {
        for (Kind k : Kind.MATRIX) {
            try (ConnectedPair p = ConnectedPair.open(k, dir)) {
                p.insert(map, SOURCE);
                assertThat(map.cookie(SOURCE)).as(k.name()).isEqualTo(Sockets.cookie(p.mapped));
                map.delete(SOURCE);
            }
        }
        assertThat(map.keys()).isEmpty();
    }

    // ---- assertions ----

    private static void assertDeliveredOnceIntact(Outcome o) {
        assertThat(o.bytesAt().values()).containsExactly(o.length());
        assertThat(o.counters().redirectedBytes()).isEqualTo(o.length());
    }

    private static void assertRedirected(Mode mode, Outcome o) {
        assertThat(o.sendErrno()).isZero();
        assertThat(o.landing()).isEqualTo(mode == Mode.INGRESS_TO_EGRESS || mode == Mode.SEND_TO_EGRESS
                ? Landing.TARGET_PEER : Landing.TARGET);
        assertDeliveredOnceIntact(o);
        assertThat(o.counters().redirectedMessages()).isEqualTo(1);
        assertThat(o.counters().droppedMessages()).isZero();
    }

    private static void assertRefusedAtSend(Outcome o) {
        assertThat(o.sendErrno()).isEqualTo(RawSockets.EACCES);
        assertThat(o.landing()).isEqualTo(Landing.NOWHERE);
        assertThat(o.bytesAt()).isEmpty();
        assertThat(o.counters().droppedMessages()).isEqualTo(1);
        assertThat(o.counters().redirectedMessages()).isZero();
    }

    private static void assertDroppedByTheHelper(Mode mode, Outcome o) {
        if (mode.skMsg) {
            assertRefusedAtSend(o);
        } else {
            assertThat(o.sendErrno()).isZero();
            assertThat(o.landing()).isEqualTo(Landing.NOWHERE);
            assertThat(o.bytesAt()).isEmpty();
            assertThat(o.counters().droppedMessages()).isEqualTo(1);
            assertThat(o.counters().redirectedMessages()).isZero();
        }
    }

    // ---- running one case ----

    private interface InsertTarget {
        void run() throws IOException;
    }

    /**
     * Attaches the mode's program, inserts the source at 0 and the target (by {@code insert}) at 1,
     * sends one message and watches every socket involved for it.
     *
     * @param targetFd the target's fd (-1: none), read for {@link Landing#TARGET}
     * @param targetPeerFd the target's peer (-1: none), read for {@link Landing#TARGET_PEER}
     */
    private Outcome run(Mode mode, ConnectedPair src, int targetFd, int targetPeerFd, InsertTarget insert)
            throws Exception {
        return run(mode, Verdict.SKB_VERDICT, src, targetFd, targetPeerFd, insert);
    }

    /** As above, attaching an sk_skb mode's program as {@code verdict} says. */
    private Outcome run(Mode mode, Verdict verdict, ConnectedPair src, int targetFd, int targetPeerFd,
            InsertTarget insert) throws Exception {
        byte[] data = (mode + " " + src.kind + " -> fd " + targetFd + " #" + System.nanoTime())
                .getBytes(StandardCharsets.US_ASCII);
        List<AutoCloseable> attached = new ArrayList<>();
        try {
            if (mode.skMsg) {
                SkMsgProgram p = obj.skMsg(mode.program);
                attached.add(p);
                attached.add(0, p.attach(map));
            } else if (verdict == Verdict.PARSER_AND_STREAM_VERDICT) {
                SkSkbProgram parser = obj.skSkb("stream_parser");
                attached.add(parser);
                attached.add(0, parser.attach(map, AttachType.SK_SKB_STREAM_PARSER));
                SkSkbProgram p = obj.skSkb(mode.program);
                attached.add(p);
                attached.add(0, p.attach(map, AttachType.SK_SKB_STREAM_VERDICT));
            } else {
                SkSkbProgram p = obj.skSkb(mode.program);
                attached.add(p);
                attached.add(0, p.attach(map, verdict == Verdict.SKB_VERDICT ? AttachType.SK_SKB_VERDICT
                        : AttachType.SK_SKB_STREAM_VERDICT));
            }
            return observe(mode, src, targetFd, targetPeerFd, insert, data);
        } finally {
            for (AutoCloseable c : attached) {
                c.close();
            }
        }
    }

    private Outcome observe(Mode mode, ConnectedPair src, int targetFd, int targetPeerFd, InsertTarget insert,
            byte[] data) throws Exception {
        src.insert(map, SOURCE);
        insert.run();

        int sender = mode.skMsg ? src.mapped : src.peer;
        int original = mode.skMsg ? src.peer : src.mapped;
        Map<String, Integer> watch = new LinkedHashMap<>();
        watch.put("original", original);
        watch.put("sender", sender);
        if (targetFd >= 0) { // a listener in the target slot is watched too: recv on it just fails
            watch.put("target", targetFd);
        }
        if (targetPeerFd >= 0) {
            watch.put("targetPeer", targetPeerFd);
        }
        long sent = RawSockets.send(sender, data, 0);
        int sendErrno = sent < 0 ? (int) -sent : 0;
        if (sent >= 0) {
            assertThat(sent).isEqualTo(data.length);
        }

        Map<String, byte[]> got = new LinkedHashMap<>();
        watch.keySet().forEach(k -> got.put(k, new byte[0]));
        long deadline = System.nanoTime() + ARRIVAL_MILLIS * 1_000_000L;
        while (System.nanoTime() < deadline && sendErrno == 0) {
            collect(watch, got, 20);
            if (got.values().stream().anyMatch(b -> b.length > 0) || counters.snapshot().droppedMessages() > 0) {
                break;
            }
        }
        long settle = System.nanoTime() + SETTLE_MILLIS * 1_000_000L;
        while (System.nanoTime() < settle) {
            collect(watch, got, 20);
        }

        Map<String, Integer> bytesAt = new LinkedHashMap<>();
        got.forEach((k, b) -> {
            if (b.length > 0) {
                bytesAt.put(k, b.length);
                assertThat(b).as("bytes at " + k).isEqualTo(data);
            }
        });
        assertThat(bytesAt).as("the message arrived at one socket at most").hasSizeLessThanOrEqualTo(1);
        Landing landing = bytesAt.containsKey("targetPeer") ? Landing.TARGET_PEER
                : bytesAt.containsKey("target") ? Landing.TARGET
                : bytesAt.containsKey("original") ? Landing.ORIGINAL
                : bytesAt.containsKey("sender") ? Landing.SENDER : Landing.NOWHERE;
        return new Outcome(data.length, landing, sendErrno, counters.snapshot(), bytesAt);
    }

    private static void collect(Map<String, Integer> watch, Map<String, byte[]> got, int millis) {
        for (Map.Entry<String, Integer> w : watch.entrySet()) {
            byte[] more = RawSockets.drain(w.getValue(), millis / watch.size());
            if (more.length > 0) {
                byte[] old = got.get(w.getKey());
                byte[] both = Arrays.copyOf(old, old.length + more.length);
                System.arraycopy(more, 0, both, old.length, more.length);
                got.put(w.getKey(), both);
            }
        }
    }

    private static void record(Mode mode, String from, String to, Outcome o) {
        record(mode, null, from, to, o);
    }

    private static void record(Mode mode, Verdict verdict, String from, String to, Outcome o) {
        String key = mode.name().toLowerCase() + (verdict == null ? "" : "[" + verdict.name().toLowerCase() + "]")
                + " " + from + "->" + to;
        RESULTS.put(key, o.landing() + (o.sendErrno() != 0 ? "/errno" + o.sendErrno() : "")
                + (o.counters().droppedMessages() > 0 ? "/drop" : ""));
        System.out.println("MATRIX " + key + ": " + o.describe());
    }
}
