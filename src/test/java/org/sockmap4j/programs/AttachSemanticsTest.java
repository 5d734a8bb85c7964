package org.sockmap4j.programs;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.sockmap4j.AttachMode;
import org.sockmap4j.AttachType;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfException;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Cgroup;
import org.sockmap4j.Errno;
import org.sockmap4j.KeyCodec;
import org.sockmap4j.Program;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SkSkbProgram;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockMap;
import org.sockmap4j.SockOpsProgram;
import org.sockmap4j.SocketMap;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TestCgroup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What BPF_PROG_QUERY reports for each socket-map attach type and for a cgroup, in both attach
 * modes, and the attach-before-insert rule. The link-specific rules are in {@link LinkRulesTest}.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class AttachSemanticsTest {

    /** The redirect object's program that fits each socket-map attach type. */
    static String programFor(AttachType type) {
        return switch (type) {
            case SK_MSG_VERDICT -> "msg_pass";
            case SK_SKB_STREAM_PARSER -> "stream_parser";
            case SK_SKB_STREAM_VERDICT, SK_SKB_VERDICT -> "skb_pass";
            default -> throw new IllegalArgumentException(type.toString());
        };
    }

    /** The program of the redirect object that fits {@code type}, as its typed kind. */
    static Program program(BpfObject obj, AttachType type, String name) {
        return type == AttachType.SK_MSG_VERDICT ? obj.skMsg(name) : obj.skSkb(name);
    }

    /** Attaches {@code p} (an SK_MSG or SK_SKB program) to {@code map} at {@code type}. */
    static Attachment attach(Program p, SocketMap<?> map, AttachType type, AttachMode mode) {
        return p instanceof SkMsgProgram m ? m.attach(map, mode) : ((SkSkbProgram) p).attach(map, type, mode);
    }

    static boolean isVerdict(AttachType t) {
        return t == AttachType.SK_SKB_STREAM_VERDICT || t == AttachType.SK_SKB_VERDICT;
    }

    static Stream<Arguments> socketMapTypesAndModes() {
        return Stream.of(AttachType.SK_MSG_VERDICT, AttachType.SK_SKB_STREAM_PARSER,
                        AttachType.SK_SKB_STREAM_VERDICT, AttachType.SK_SKB_VERDICT)
                .flatMap(t -> Stream.of(Arguments.of(t, AttachMode.LINK), Arguments.of(t, AttachMode.PROG_ATTACH)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("socketMapTypesAndModes")
    void progQueryShowsTheProgramWhileAttachedToASockMap(AttachType type, AttachMode mode) {
        if (mode == AttachMode.LINK) org.sockmap4j.testing.KernelAssume.has(org.sockmap4j.KernelFeatures.Feature.SOCKMAP_LINK);
        try (BpfObject obj = BpfObject.openBundled("redirect").load();
             SockMap map = obj.sockMap("sock_map");
             Program p = program(obj, type, programFor(type))) {
            assertThat(map.attachedPrograms(type)).isEmpty();
            try (Attachment at = attach(p, map, type, mode)) {
                assertThat(at.isLink()).isEqualTo(mode == AttachMode.LINK);
                assertThat(at.attachType()).isEqualTo(type);
                assertThat(map.attachedPrograms(type)).containsExactly(p.id());
                for (AttachType other : new AttachType[] {AttachType.SK_MSG_VERDICT, AttachType.SK_SKB_STREAM_PARSER,
                        AttachType.SK_SKB_STREAM_VERDICT, AttachType.SK_SKB_VERDICT}) {
                    if (other == type) {
                        continue;
                    }
                    if (isVerdict(type) && isVerdict(other)) {
                        // the kernel answers a query for the other verdict slot with EBUSY
                        assertThatThrownBy(() -> map.attachedPrograms(other)).as("query at %s", other)
                                .isInstanceOfSatisfying(BpfException.class,
                                        e -> assertThat(e.errno()).isEqualTo(Errno.EBUSY));
                    } else {
                        assertThat(map.attachedPrograms(other)).as("query at %s", other).isEmpty();
                    }
                }
            }
            assertThat(map.attachedPrograms(type)).isEmpty();
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("socketMapTypesAndModes")
    void progQueryShowsTheProgramWhileAttachedToASockHash(AttachType type, AttachMode mode) {
        if (mode == AttachMode.LINK) org.sockmap4j.testing.KernelAssume.has(org.sockmap4j.KernelFeatures.Feature.SOCKMAP_LINK);
        try (BpfObject obj = BpfObject.openBundled("redirect").load();
             SockHash<Integer> hash = SockHash.create(KeyCodec.u32(), 4);
             Program p = program(obj, type, programFor(type))) {
            assertThat(hash.attachedPrograms(type)).isEmpty();
            try (Attachment at = attach(p, hash, type, mode)) {
                assertThat(hash.attachedPrograms(type)).containsExactly(p.id());
            }
            assertThat(hash.attachedPrograms(type)).isEmpty();
        }
    }

    @ParameterizedTest
    @EnumSource(value = AttachMode.class, names = {"LINK", "PROG_ATTACH"})
    void sockOpsOnACgroupShowsInProgQueryUntilClosed(AttachMode mode) {
        try (TestCgroup cg = TestCgroup.create();
             Cgroup cgroup = Cgroup.open(cg.path());
             BpfObject obj = BpfObject.openBundled("bypass").load();
             SockOpsProgram ops = obj.sockOps("bypass_sockops")) {
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).isEmpty();
            try (Attachment at = ops.attach(cgroup, mode)) {
                assertThat(at.isLink()).isEqualTo(mode == AttachMode.LINK);
                assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).containsExactly(ops.id());
            }
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).isEmpty();
        }
    }

    @Test
    void aSecondSockOpsAttachmentOnTheSameCgroupAddsToTheFirst() {
        try (TestCgroup cg = TestCgroup.create();
             Cgroup cgroup = Cgroup.open(cg.path());
             BpfObject obj1 = BpfObject.openBundled("bypass").load();
             BpfObject obj2 = BpfObject.openBundled("bypass").load();
             SockOpsProgram a = obj1.sockOps("bypass_sockops");
             SockOpsProgram b = obj2.sockOps("bypass_sockops");
             Attachment first = a.attach(cgroup, AttachMode.LINK);
             Attachment second = b.attach(cgroup, AttachMode.PROG_ATTACH)) {
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).containsExactlyInAnyOrder(a.id(), b.id());
            first.close();
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).containsExactly(b.id());
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("socketMapTypesAndModes")
    void attachingToASockHashThatHoldsASocketIsRefusedAndAttachesNothing(AttachType type, AttachMode mode)
            throws IOException {
        if (mode == AttachMode.LINK) org.sockmap4j.testing.KernelAssume.has(org.sockmap4j.KernelFeatures.Feature.SOCKMAP_LINK);
        try (BpfObject obj = BpfObject.openBundled("redirect").load();
             SockHash<Integer> hash = SockHash.create(KeyCodec.u32(), 4);
             Program p = program(obj, type, programFor(type));
             ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel client = SocketChannel.open(server.getLocalAddress());
             SocketChannel accepted = server.accept()) {
            hash.put(7, client);
            assertThat(hash.keys()).containsExactly(7);
            assertThatThrownBy(() -> attach(p, hash, type, mode).close()).isInstanceOf(IllegalStateException.class);
            assertThat(hash.attachedPrograms(type)).isEmpty();
            hash.delete(7);
            try (Attachment at = attach(p, hash, type, mode)) {
                assertThat(hash.attachedPrograms(type)).containsExactly(p.id());
            }
        }
    }

    /**
     * A map this handle created and never filled skips the emptiness check, but not once another
     * handle can reach it: filled through a second handle opened from its pin, it is refused.
     */
    @Test
    void aFreshMapFilledThroughAnotherHandleIsStillRefused() throws IOException {
        try (org.sockmap4j.testing.TempBpfDir dir = org.sockmap4j.testing.TempBpfDir.create();
             BpfObject obj = BpfObject.openBundled("redirect").load();
             SockMap fresh = SockMap.builder().maxEntries(64).create();
             SkMsgProgram p = obj.skMsg("msg_pass");
             ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel client = SocketChannel.open(server.getLocalAddress());
             SocketChannel accepted = server.accept()) {
            java.nio.file.Path pin = dir.path().resolve("fresh");
            fresh.pin(pin);
            try (SockMap other = SockMap.openPinned(pin)) {
                other.put(63, client);
            }
            assertThatThrownBy(() -> p.attach(fresh).close()).isInstanceOf(IllegalStateException.class);
            fresh.delete(63);
            p.attach(fresh).close(); // empty again: allowed
        }
    }

    @Test
    void attachingToASockMapThatHoldsASocketIsRefusedAndAttachesNothing() throws IOException {
        org.sockmap4j.testing.KernelAssume.has(org.sockmap4j.KernelFeatures.Feature.SOCKMAP_LINK);
        try (BpfObject obj = BpfObject.openBundled("redirect").load();
             SockMap map = obj.sockMap("sock_map");
             SkMsgProgram p = obj.skMsg("msg_pass");
             ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel client = SocketChannel.open(server.getLocalAddress());
             SocketChannel accepted = server.accept()) {
            map.put(63, client); // the last index: isEmpty must look at every slot
            assertThatThrownBy(() -> p.attach(map, AttachMode.LINK).close()).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> p.attach(map, AttachMode.PROG_ATTACH).close())
                    .isInstanceOf(IllegalStateException.class);
            assertThat(map.attachedPrograms(AttachType.SK_MSG_VERDICT)).isEmpty();
        }
    }
}
