package org.sockmap4j.badinput;

import static org.assertj.core.api.Assertions.assertThat;
import static org.sockmap4j.badinput.Refusal.assertRefused;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.AttachMode;
import org.sockmap4j.AttachType;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Cgroup;
import org.sockmap4j.KernelFeatures.Feature;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SkSkbProgram;
import org.sockmap4j.SockMap;
import org.sockmap4j.SockOpsProgram;
import org.sockmap4j.testing.BpfFs;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.KernelAssume;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TempBpfDir;
import org.sockmap4j.testing.TestCgroup;

/**
 * Use after close and double close of maps, programs, links, cgroups and objects. A use after
 * close is an IllegalStateException naming the call, the object and what to do, thrown before
 * any system call: the test puts another file at the closed fd's number (an {@link FdSlot}) and
 * checks that the kernel object there was not touched. A second close is a no-op, also when the
 * number is in use again. What the kernel holds (entries, attached programs, pins) is checked
 * through other handles.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class ClosedObjectsTest {

    @Test
    void putIntoAClosedMapDoesNotReachTheMapNowAtItsFdNumber() throws IOException {
        try (SockMap other = SockMap.builder().name("other").create(); ServerSocketChannel listener = listener()) {
            SockMap closed = SockMap.builder().name("closed_map").create();
            int number = closed.fd();
            closed.close();
            try (FdSlot slot = FdSlot.dupAt(other.fd(), number)) { // the closed number is now 'other'
                assertRefused(() -> closed.put(0, listener), IllegalStateException.class, "SockMap.put",
                        "sockmap 'closed_map' is closed", "create or open a new one");
                assertThat(other.containsKey(0)).isFalse();
                slot.assertUntouched();
            }
        }
    }

    @Test
    void aSecondCloseOfAMapLeavesItsOldFdNumberAlone() {
        SockMap map = SockMap.builder().name("twice").create();
        int number = map.fd();
        map.close();
        try (FdSlot slot = FdSlot.devNullAt(number)) {
            map.close();
            slot.assertUntouched();
        }
    }

    @Test
    void pinningAClosedProgramPinsNothing() {
        try (TempBpfDir dir = BpfFs.tempDir(); BpfObject obj = BpfObject.openBundled("redirect").load()) {
            SkMsgProgram prog = obj.skMsg("msg_pass");
            prog.close();
            Path pin = dir.resolve("closed_prog");
            assertRefused(() -> prog.pin(pin), IllegalStateException.class, "Program.pin",
                    "sk_msg program 'msg_pass' is closed", "create or open a new one");
            assertThat(pin).doesNotExist();
        }
    }

    @Test
    void aSecondCloseOfAProgramLeavesItsOldFdNumberAlone() {
        try (BpfObject obj = BpfObject.openBundled("redirect").load()) {
            SkMsgProgram prog = obj.skMsg("msg_pass");
            int number = prog.fd();
            prog.close();
            try (SkMsgProgram again = obj.skMsg("msg_pass"); FdSlot slot = FdSlot.dupAt(again.fd(), number)) {
                prog.close();
                slot.assertUntouched();
                assertThat(again.id()).isPositive();
            }
        }
    }

    @Test
    void attachingToAClosedMapAttachesNothing() {
        KernelAssume.has(Feature.PROG_QUERY_SOCKMAP, "to see what is attached to the map");
        try (BpfObject obj = BpfObject.openBundled("redirect").load();
                SockMap map = obj.sockMap("sock_map");
                SkSkbProgram skb = obj.skSkb("skb_pass")) {
            SockMap closed = obj.sockMap("sock_map");
            closed.close();
            assertRefused(() -> skb.attach(closed, AttachType.SK_SKB_VERDICT).close(), IllegalStateException.class,
                    "SkSkbProgram.attach", "sockmap 'sock_map' is closed", "create or open a new one");
            assertThat(map.attachedPrograms(AttachType.SK_SKB_VERDICT)).isEmpty();
        }
    }

    @Test
    void attachingToAClosedCgroupAttachesNothing() {
        try (TestCgroup cg = TestCgroup.create();
                Cgroup view = Cgroup.open(cg.path());
                BpfObject obj = BpfObject.openBundled("bypass").load();
                SockOpsProgram ops = obj.sockOps("bypass_sockops")) {
            Cgroup closed = Cgroup.open(cg.path());
            closed.close();
            assertRefused(() -> ops.attach(closed).close(), IllegalStateException.class, "SockOpsProgram.attach",
                    "cgroup " + cg.path() + " is closed", "create or open a new one");
            assertThat(view.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).isEmpty();
        }
    }

    @Test
    void movingAProcessIntoAClosedCgroupMovesNothing() {
        try (TestCgroup cg = TestCgroup.create()) {
            Cgroup closed = Cgroup.open(cg.path());
            closed.close();
            assertRefused(closed::addCurrentProcess, IllegalStateException.class, "Cgroup.addCurrentProcess",
                    "cgroup " + cg.path() + " is closed", "create or open a new one");
            assertThat(cg.processes()).isEmpty();
        }
    }

    @Test
    void aSecondCloseOfACgroupLeavesItsOldFdNumberAlone() {
        try (TestCgroup cg = TestCgroup.create()) {
            Cgroup c = Cgroup.open(cg.path());
            int number = c.fd();
            c.close();
            try (FdSlot slot = FdSlot.devNullAt(number)) {
                c.close();
                slot.assertUntouched();
            }
        }
    }

    @Test
    void pinningAClosedLinkPinsNothing() {
        KernelAssume.has(Feature.CGROUP_LINK);
        try (TestCgroup cg = TestCgroup.create();
                Cgroup cgroup = Cgroup.open(cg.path());
                TempBpfDir dir = BpfFs.tempDir();
                BpfObject obj = BpfObject.openBundled("bypass").load();
                SockOpsProgram ops = obj.sockOps("bypass_sockops")) {
            Attachment link = ops.attach(cgroup, AttachMode.LINK);
            link.close();
            Path pin = dir.resolve("closed_link");
            assertRefused(() -> link.pin(pin), IllegalStateException.class, "Attachment.pin",
                    "sock_ops program 'bypass_sockops' -> cgroup " + cg.path() + " (CGROUP_SOCK_OPS) is closed",
                    "create or open a new one");
            assertThat(pin).doesNotExist();
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).isEmpty();
        }
    }

    @Test
    void updatingAClosedLinkAttachesNothing() {
        KernelAssume.has(Feature.CGROUP_LINK);
        try (TestCgroup cg = TestCgroup.create();
                Cgroup cgroup = Cgroup.open(cg.path());
                BpfObject obj = BpfObject.openBundled("bypass").load();
                SockOpsProgram ops = obj.sockOps("bypass_sockops");
                SockOpsProgram other = obj.sockOps("bypass_sockops")) {
            Attachment link = ops.attach(cgroup, AttachMode.LINK);
            link.close();
            assertRefused(() -> link.update(other), IllegalStateException.class, "Attachment.update",
                    "(CGROUP_SOCK_OPS) is closed", "create or open a new one");
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).isEmpty();
        }
    }

    /** PROG_ATTACH has no link fd: a second close must not BPF_PROG_DETACH an attachment made since. */
    @Test
    void aSecondCloseOfAProgAttachDoesNotDetachANewerAttachment() {
        try (TestCgroup cg = TestCgroup.create();
                Cgroup cgroup = Cgroup.open(cg.path());
                BpfObject obj = BpfObject.openBundled("bypass").load();
                SockOpsProgram ops = obj.sockOps("bypass_sockops")) {
            Attachment first = ops.attach(cgroup, AttachMode.PROG_ATTACH);
            first.close();
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).isEmpty();
            try (Attachment second = ops.attach(cgroup, AttachMode.PROG_ATTACH)) {
                first.close();
                assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).containsExactly(ops.id());
                assertThat(second.isClosed()).isFalse();
            }
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).isEmpty();
        }
    }

    @Test
    void takingAProgramFromAClosedObject() {
        BpfObject obj = BpfObject.openBundled("redirect").load();
        obj.close();
        assertRefused(() -> obj.skMsg("msg_pass").close(), IllegalStateException.class, "BpfObject.skMsg",
                "BPF object 'redirect' is closed", "create or open a new one");
        obj.close(); // a second close is a no-op
    }

    @Test
    void takingAMapFromAnObjectNotLoadedYet() {
        try (BpfObject obj = BpfObject.openBundled("redirect")) {
            assertRefused(() -> obj.sockMap("sock_map").close(), IllegalStateException.class, "BpfObject.sockMap",
                    "BPF object 'redirect' is not loaded yet", "call load() first");
        }
    }

    @Test
    void loadingAnObjectTwice() {
        try (BpfObject obj = BpfObject.openBundled("redirect").load()) {
            assertRefused(obj::load, IllegalStateException.class, "BpfObject.load",
                    "BPF object 'redirect' is already loaded", "set maps and programs up before load()");
        }
    }

    private static ServerSocketChannel listener() throws IOException {
        ServerSocketChannel l = ServerSocketChannel.open();
        l.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        return l;
    }
}
