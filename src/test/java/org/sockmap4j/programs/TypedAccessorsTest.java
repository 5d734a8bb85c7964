package org.sockmap4j.programs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.AttachMode;
import org.sockmap4j.AttachType;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfObject;
import org.sockmap4j.ConnectionKey;
import org.sockmap4j.KeyCodec;
import org.sockmap4j.MapType;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SkSkbProgram;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockMap;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * BpfObject hands out programs and maps only as the kind, key size and lifecycle state they have:
 * a wrong kind or name is an IllegalArgumentException, a wrong state an IllegalStateException,
 * before any fd is handed out.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class TypedAccessorsTest {
    static final java.util.List<String> BUNDLED = BpfObject.BUNDLED;

    @ParameterizedTest
    @FieldSource("BUNDLED")
    void everyBundledObjectLoads(String name) {
        if (name.equals("sockmap_iter")) {
            org.sockmap4j.testing.KernelAssume.has(KernelFeatures.Feature.SOCKMAP_ITER);
        }
        try (BpfObject obj = BpfObject.openBundled(name)) {
            assertThat(obj.programNames()).isNotEmpty();
            assertThat(obj.mapNames()).isNotEmpty();
            obj.load();
        }
    }

    @Test
    void anUnknownBundledObjectIsAnIllegalArgument() {
        assertThatThrownBy(() -> BpfObject.openBundled("nope").close()).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> BpfObject.openBundled("redirect.bpf.o").close())
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aProgramOfAnotherKindIsAnIllegalArgument() {
        try (BpfObject redirect = BpfObject.openBundled("redirect").load();
             BpfObject bypass = BpfObject.openBundled("bypass").load()) {
            assertThatThrownBy(() -> redirect.skSkb("msg_pass").close()).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> redirect.skMsg("skb_pass").close()).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> redirect.skMsg("stream_parser").close())
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> redirect.sockOps("msg_pass").close()).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> bypass.skMsg("bypass_sockops").close())
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> bypass.sockOps("bypass_sk_msg").close())
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void aMapOfAnotherKindOrKeySizeIsAnIllegalArgument() {
        try (BpfObject redirect = BpfObject.openBundled("redirect").load();
             BpfObject bypass = BpfObject.openBundled("bypass").load()) {
            assertThatThrownBy(() -> bypass.sockMap("sock_hash").close()).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> bypass.sockHash("sock_hash", KeyCodec.u32()).close())
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> bypass.sockHash("sock_hash", KeyCodec.bytes(ConnectionKey.SIZE + 4)).close())
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> redirect.sockHash("sock_map", KeyCodec.u32()).close())
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> redirect.counters("config").close()).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> redirect.u32Array("counters").close())
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> redirect.u32Array("sock_map").close())
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> redirect.lpmTrie("config").close()).isInstanceOf(IllegalArgumentException.class);
            // the right kinds work
            try (SockHash<ConnectionKey> h = bypass.sockHash("sock_hash", ConnectionKey.codec());
                 SockHash<byte[]> raw = bypass.sockHash("sock_hash", KeyCodec.bytes(ConnectionKey.SIZE));
                 SockMap m = redirect.sockMap("sock_map")) {
                assertThat(h.info().type()).isEqualTo(MapType.SOCKHASH);
                assertThat(raw.id()).isEqualTo(h.id());
                assertThat(m.info().type()).isEqualTo(MapType.SOCKMAP);
            }
        }
    }

    @Test
    void unknownNamesAreAnIllegalArgument() {
        try (BpfObject opened = BpfObject.openBundled("redirect");
             BpfObject obj = BpfObject.openBundled("redirect").load()) {
            assertThatThrownBy(() -> opened.maxEntries("nope", 8)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> opened.expectedAttachType("nope", AttachType.SK_MSG_VERDICT))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> obj.skMsg("nope").close()).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> obj.skSkb("nope").close()).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> obj.sockOps("nope").close()).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> obj.sockMap("nope").close()).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> obj.sockHash("nope", KeyCodec.u32()).close())
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> obj.counters("nope").close()).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> obj.u32Array("nope").close()).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> obj.lpmTrie("nope").close()).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void programsAndMapsNeedALoadedObject() {
        try (BpfObject obj = BpfObject.openBundled("redirect")) {
            assertThat(obj.programNames()).contains("msg_pass", "skb_pass", "stream_parser");
            assertThat(obj.mapNames()).contains("sock_map", "config", "counters");
            assertThatThrownBy(() -> obj.skMsg("msg_pass").close()).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> obj.skSkb("skb_pass").close()).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> obj.sockMap("sock_map").close()).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> obj.counters("counters").close()).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> obj.u32Array("config").close()).isInstanceOf(IllegalStateException.class);
            obj.load();
            assertThatThrownBy(obj::load).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> obj.maxEntries("sock_map", 8)).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> obj.expectedAttachType("msg_pass", AttachType.SK_MSG_VERDICT))
                    .isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void maxEntriesSetBeforeLoadIsWhatTheKernelCreates() {
        try (BpfObject obj = BpfObject.openBundled("redirect").maxEntries("sock_map", 8).load();
             SockMap map = obj.sockMap("sock_map")) {
            assertThat(map.maxEntries()).isEqualTo(8);
            assertThat(map.info().maxEntries()).isEqualTo(8);
        }
    }

    @Test
    void aClosedObjectRefusesEverything() {
        try (BpfObject obj = BpfObject.openBundled("redirect").load()) {
            obj.close();
            assertClosed(obj);
        }
    }

    private static void assertClosed(BpfObject obj) {
        assertThatThrownBy(() -> obj.skMsg("msg_pass").close()).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> obj.skSkb("skb_pass").close()).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> obj.sockOps("x").close()).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> obj.sockMap("sock_map").close()).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> obj.sockHash("sock_map", KeyCodec.u32()).close())
                .isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> obj.counters("counters").close()).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> obj.u32Array("config").close()).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(obj::programNames).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(obj::mapNames).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(obj::load).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> obj.maxEntries("sock_map", 8)).isInstanceOf(IllegalStateException.class);
        obj.close(); // idempotent
    }

    @Test
    void programsAndMapsTakenFromAnObjectOutliveIt() {
        org.sockmap4j.testing.KernelAssume.has(KernelFeatures.Feature.SOCKMAP_LINK);
        try (BpfObject obj = BpfObject.openBundled("redirect").load();
             SockMap m = obj.sockMap("sock_map");
             SkSkbProgram p = obj.skSkb("skb_pass")) {
            obj.close();
            try (Attachment at = p.attach(m, AttachType.SK_SKB_VERDICT, AttachMode.LINK)) {
                assertThat(m.attachedPrograms(AttachType.SK_SKB_VERDICT)).containsExactly(p.id());
            }
            assertThat(m.attachedPrograms(AttachType.SK_SKB_VERDICT)).isEmpty();
        }
    }

    @Test
    void closedProgramsAndMapsRefuseUse() {
        try (BpfObject obj = BpfObject.openBundled("redirect").load();
             SkMsgProgram p = obj.skMsg("msg_pass");
             SockMap map = obj.sockMap("sock_map")) {
            p.close();
            assertThat(p.isClosed()).isTrue();
            assertThatThrownBy(p::id).isInstanceOf(IllegalStateException.class);
            try (SockMap m = obj.sockMap("sock_map")) {
                assertThatThrownBy(() -> p.attach(m).close()).isInstanceOf(IllegalStateException.class);
                if (KernelFeatures.probe().has(KernelFeatures.Feature.PROG_QUERY_SOCKMAP)) {
                    assertThat(m.attachedPrograms(AttachType.SK_MSG_VERDICT)).isEmpty();
                }
            }
            map.close();
            assertThat(map.isClosed()).isTrue();
            assertThatThrownBy(() -> map.attachedPrograms(AttachType.SK_MSG_VERDICT))
                    .isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(map::id).isInstanceOf(IllegalStateException.class);
            try (SkMsgProgram q = obj.skMsg("msg_pass")) {
                assertThatThrownBy(() -> q.attach(map).close()).isInstanceOf(IllegalStateException.class);
            }
            p.close(); // idempotent
            map.close();
        }
    }
}
