package org.sockmap4j.programs;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.sockmap4j.AttachMode;
import org.sockmap4j.AttachType;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfException;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Errno;
import org.sockmap4j.Program;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SkSkbProgram;
import org.sockmap4j.SockMap;
import org.sockmap4j.testing.BpfFs;
import org.sockmap4j.testing.Exec;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TempBpfDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.sockmap4j.programs.AttachSemanticsTest.attach;
import static org.sockmap4j.programs.AttachSemanticsTest.program;
import static org.sockmap4j.programs.AttachSemanticsTest.programFor;

/**
 * The rules the kernel (6.10+ socket-map links) applies to BPF links on a socket map, next to
 * PROG_ATTACH, and to BPF_LINK_UPDATE; errnos as Linux 6.18 returns them.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class LinkRulesTest {
    private static final Pattern PROG_ID = Pattern.compile("\"prog_id\":(\\d+)");

    static Stream<AttachType> socketMapTypes() {
        return Stream.of(AttachType.SK_MSG_VERDICT, AttachType.SK_SKB_STREAM_PARSER,
                AttachType.SK_SKB_STREAM_VERDICT, AttachType.SK_SKB_VERDICT);
    }

    /** The program id the kernel reports for a link (bpftool link show). */
    private static int linkProgId(Attachment link) {
        Matcher m = PROG_ID.matcher(Exec.check("bpftool", "-j", "link", "show", "id", Integer.toString(link.linkId())));
        assertThat(m.find()).as("prog_id in bpftool's link output").isTrue();
        return Integer.parseInt(m.group(1));
    }

    private static void assertErrno(Throwable t, Errno expected) {
        assertThat(t).isInstanceOf(BpfException.class);
        assertThat(((BpfException) t).errno()).isEqualTo(expected);
    }

    /**
     * Two objects, so that every attach type has a second, distinct program of the same kind
     * (the redirect object has only one stream parser).
     */
    private record Objects(BpfObject first, BpfObject second) implements AutoCloseable {
        static Objects load() {
            BpfObject a = BpfObject.openBundled("redirect").load();
            try {
                return new Objects(a, BpfObject.openBundled("redirect").load());
            } catch (RuntimeException e) {
                a.close();
                throw e;
            }
        }

        @Override
        public void close() {
            try {
                second.close();
            } finally {
                first.close();
            }
        }
    }

    @ParameterizedTest
    @MethodSource("socketMapTypes")
    void aSecondLinkOfTheSameTypeOnTheSameMapIsRefusedWithEbusy(AttachType type) {
        org.sockmap4j.testing.KernelAssume.has(org.sockmap4j.KernelFeatures.Feature.SOCKMAP_LINK);
        try (Objects objs = Objects.load();
             SockMap map = objs.first().sockMap("sock_map");
             Program p = program(objs.first(), type, programFor(type));
             Program other = program(objs.second(), type, programFor(type));
             Attachment link = attach(p, map, type, AttachMode.LINK)) {
            assertThatThrownBy(() -> attach(p, map, type, AttachMode.LINK).close())
                    .satisfies(e -> assertErrno(e, Errno.EBUSY));
            assertThatThrownBy(() -> attach(other, map, type, AttachMode.LINK).close())
                    .satisfies(e -> assertErrno(e, Errno.EBUSY));
            assertThat(map.attachedPrograms(type)).containsExactly(p.id());
            assertThat(linkProgId(link)).isEqualTo(p.id());
        }
    }

    @ParameterizedTest
    @MethodSource("socketMapTypes")
    void progAttachOverALinkIsRefusedWithEbusyAndWorksOnceTheLinkIsClosed(AttachType type) {
        org.sockmap4j.testing.KernelAssume.has(org.sockmap4j.KernelFeatures.Feature.SOCKMAP_LINK);
        try (Objects objs = Objects.load();
             SockMap map = objs.first().sockMap("sock_map");
             Program p = program(objs.first(), type, programFor(type));
             Program other = program(objs.second(), type, programFor(type))) {
            try (Attachment link = attach(p, map, type, AttachMode.LINK)) {
                assertThatThrownBy(() -> attach(p, map, type, AttachMode.PROG_ATTACH).close())
                        .satisfies(e -> assertErrno(e, Errno.EBUSY));
                assertThatThrownBy(() -> attach(other, map, type, AttachMode.PROG_ATTACH).close())
                        .satisfies(e -> assertErrno(e, Errno.EBUSY));
                assertThat(map.attachedPrograms(type)).containsExactly(p.id());
            }
            assertThat(map.attachedPrograms(type)).isEmpty();
            try (Attachment pa = attach(other, map, type, AttachMode.PROG_ATTACH)) {
                assertThat(pa.isLink()).isFalse();
                assertThat(map.attachedPrograms(type)).containsExactly(other.id());
            }
            assertThat(map.attachedPrograms(type)).isEmpty();
        }
    }

    /**
     * The rule is not symmetric: the kernel only refuses to touch a slot a link owns, so a link
     * made over a PROG_ATTACH takes the slot, and closing it empties the slot.
     */
    @ParameterizedTest
    @MethodSource("socketMapTypes")
    void aLinkOverAProgAttachTakesTheSlot(AttachType type) {
        org.sockmap4j.testing.KernelAssume.has(org.sockmap4j.KernelFeatures.Feature.SOCKMAP_LINK);
        try (Objects objs = Objects.load();
             SockMap map = objs.first().sockMap("sock_map");
             Program p = program(objs.first(), type, programFor(type));
             Program other = program(objs.second(), type, programFor(type));
             Attachment pa = attach(p, map, type, AttachMode.PROG_ATTACH)) {
            try (Attachment link = attach(other, map, type, AttachMode.LINK)) {
                assertThat(map.attachedPrograms(type)).containsExactly(other.id());
            }
            assertThat(map.attachedPrograms(type)).isEmpty();
            pa.close(); // BPF_PROG_DETACH of a program no longer there: ENOENT, ignored
            assertThat(pa.isClosed()).isTrue();
            assertThat(map.attachedPrograms(type)).isEmpty();
        }
    }

    /** PROG_ATTACH of a second program replaces the first; closing the first then detaches nothing. */
    @ParameterizedTest
    @MethodSource("socketMapTypes")
    void aSecondProgAttachReplacesTheFirst(AttachType type) {
        try (Objects objs = Objects.load();
             SockMap map = objs.first().sockMap("sock_map");
             Program p = program(objs.first(), type, programFor(type));
             Program other = program(objs.second(), type, programFor(type));
             Attachment first = attach(p, map, type, AttachMode.PROG_ATTACH)) {
            try (Attachment second = attach(other, map, type, AttachMode.PROG_ATTACH)) {
                assertThat(map.attachedPrograms(type)).containsExactly(other.id());
                first.close();
                assertThat(map.attachedPrograms(type)).containsExactly(other.id());
            }
            assertThat(map.attachedPrograms(type)).isEmpty();
        }
    }

    @Test
    void updateToAProgramOfAnotherTypeOrAttachTypeIsRefusedWithEinval() {
        org.sockmap4j.testing.KernelAssume.has(org.sockmap4j.KernelFeatures.Feature.SOCKMAP_LINK);
        try (BpfObject obj = BpfObject.openBundled("redirect").load();
             SockMap map = obj.sockMap("sock_map");
             SkSkbProgram skbPass = obj.skSkb("skb_pass");
             SkSkbProgram parser = obj.skSkb("stream_parser");
             SkMsgProgram msgPass = obj.skMsg("msg_pass")) {
            try (Attachment link = skbPass.attach(map, AttachType.SK_SKB_VERDICT, AttachMode.LINK)) {
                assertThatThrownBy(() -> link.update(msgPass)).satisfies(e -> assertErrno(e, Errno.EINVAL));
                assertThatThrownBy(() -> link.update(msgPass, skbPass)).satisfies(e -> assertErrno(e, Errno.EINVAL));
                // same program type, but libbpf loaded the parser with expected_attach_type stream_parser
                assertThatThrownBy(() -> link.update(parser)).satisfies(e -> assertErrno(e, Errno.EINVAL));
                assertThat(map.attachedPrograms(AttachType.SK_SKB_VERDICT)).containsExactly(skbPass.id());
                assertThat(linkProgId(link)).isEqualTo(skbPass.id());
            }
            try (Attachment link = msgPass.attach(map, AttachMode.LINK)) {
                assertThatThrownBy(() -> link.update(skbPass)).satisfies(e -> assertErrno(e, Errno.EINVAL));
                assertThat(map.attachedPrograms(AttachType.SK_MSG_VERDICT)).containsExactly(msgPass.id());
            }
        }
    }

    @Test
    void updateWithTheWrongExpectedProgramIsRefusedWithEperm() {
        org.sockmap4j.testing.KernelAssume.has(org.sockmap4j.KernelFeatures.Feature.SOCKMAP_LINK);
        try (BpfObject obj = BpfObject.openBundled("redirect").load();
             SockMap map = obj.sockMap("sock_map");
             SkMsgProgram pass = obj.skMsg("msg_pass");
             SkMsgProgram local = obj.skMsg("redir_send_to_local");
             SkMsgProgram egress = obj.skMsg("redir_send_to_egress");
             Attachment link = pass.attach(map, AttachMode.LINK)) {
            assertThatThrownBy(() -> link.update(local, egress)).satisfies(e -> assertErrno(e, Errno.EPERM));
            assertThatThrownBy(() -> link.update(local, local)).satisfies(e -> assertErrno(e, Errno.EPERM));
            assertThat(map.attachedPrograms(AttachType.SK_MSG_VERDICT)).containsExactly(pass.id());
            assertThat(linkProgId(link)).isEqualTo(pass.id());
        }
    }

    @Test
    void updateWithTheRightExpectedProgramSwapsItInTheSameLink() {
        org.sockmap4j.testing.KernelAssume.has(org.sockmap4j.KernelFeatures.Feature.SOCKMAP_LINK);
        try (BpfObject obj = BpfObject.openBundled("redirect").load();
             SockMap map = obj.sockMap("sock_map");
             SkSkbProgram pass = obj.skSkb("skb_pass");
             SkSkbProgram drop = obj.skSkb("skb_drop");
             Attachment link = pass.attach(map, AttachType.SK_SKB_VERDICT, AttachMode.LINK)) {
            int linkId = link.linkId();
            link.update(drop, pass);
            assertThat(map.attachedPrograms(AttachType.SK_SKB_VERDICT)).containsExactly(drop.id());
            assertThat(link.linkId()).isEqualTo(linkId);
            assertThat(linkProgId(link)).isEqualTo(drop.id());
            link.update(pass); // no expectation: unconditional
            assertThat(map.attachedPrograms(AttachType.SK_SKB_VERDICT)).containsExactly(pass.id());
            assertThat(linkProgId(link)).isEqualTo(pass.id());
            link.close();
            assertThat(map.attachedPrograms(AttachType.SK_SKB_VERDICT)).isEmpty();
        }
    }

    @Test
    void aProgAttachCannotBeUpdatedPinnedOrAskedForALinkId() {
        try (TempBpfDir dir = BpfFs.tempDir();
             BpfObject obj = BpfObject.openBundled("redirect").load();
             SockMap map = obj.sockMap("sock_map");
             SkMsgProgram pass = obj.skMsg("msg_pass");
             SkMsgProgram local = obj.skMsg("redir_send_to_local");
             Attachment pa = pass.attach(map, AttachMode.PROG_ATTACH)) {
            assertThat(pa.isLink()).isFalse();
            assertThatThrownBy(() -> pa.update(local)).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> pa.update(local, pass)).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(pa::linkId).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> pa.pin(dir.resolve("prog_attach")))
                    .isInstanceOf(IllegalStateException.class);
            assertThat(dir.resolve("prog_attach")).doesNotExist();
            assertThat(map.attachedPrograms(AttachType.SK_MSG_VERDICT)).containsExactly(pass.id());
        }
    }

    @Test
    void aClosedLinkCannotBeUpdated() {
        org.sockmap4j.testing.KernelAssume.has(org.sockmap4j.KernelFeatures.Feature.SOCKMAP_LINK);
        try (BpfObject obj = BpfObject.openBundled("redirect").load();
             SockMap map = obj.sockMap("sock_map");
             SkMsgProgram pass = obj.skMsg("msg_pass");
             SkMsgProgram local = obj.skMsg("redir_send_to_local");
             Attachment link = pass.attach(map, AttachMode.LINK)) {
            link.close();
            assertThat(link.isClosed()).isTrue();
            assertThatThrownBy(() -> link.update(local)).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(link::linkId).isInstanceOf(IllegalStateException.class);
            assertThat(map.attachedPrograms(AttachType.SK_MSG_VERDICT)).isEmpty();
            link.close(); // idempotent
        }
    }
}
