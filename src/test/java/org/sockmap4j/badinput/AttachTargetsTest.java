package org.sockmap4j.badinput;

import static org.assertj.core.api.Assertions.assertThat;
import static org.sockmap4j.badinput.Refusal.assertRefused;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.AttachType;
import org.sockmap4j.BpfObject;
import org.sockmap4j.KernelFeatures.Feature;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SkSkbProgram;
import org.sockmap4j.SockMap;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.KernelAssume;
import org.sockmap4j.testing.Privileged;

/**
 * Attachments the library refuses before the kernel: an SK_SKB program at an attach type that is
 * not an SK_SKB one (the other program kinds cannot even be passed a wrong target: it does not
 * compile), and a map that already holds sockets, which would not run the program. Nothing is
 * attached (BPF_PROG_QUERY on the map).
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class AttachTargetsTest {

    @Test
    void anSkSkbProgramAtTheSkMsgAttachType() {
        KernelAssume.has(Feature.PROG_QUERY_SOCKMAP, "to see what is attached to the map");
        try (BpfObject obj = BpfObject.openBundled("redirect").load();
                SockMap map = obj.sockMap("sock_map");
                SkSkbProgram skb = obj.skSkb("skb_pass")) {
            assertRefused(() -> skb.attach(map, AttachType.SK_MSG_VERDICT).close(), IllegalArgumentException.class,
                    "SkSkbProgram.attach", "sk_skb program 'skb_pass' -> sockmap 'sock_map'",
                    "not SK_MSG_VERDICT; pass one of those");
            assertThat(map.attachedPrograms(AttachType.SK_MSG_VERDICT)).isEmpty();
        }
    }

    @Test
    void aMapThatAlreadyHoldsASocket() throws IOException {
        KernelAssume.has(Feature.PROG_QUERY_SOCKMAP, "to see what is attached to the map");
        try (BpfObject obj = BpfObject.openBundled("redirect").load();
                SockMap map = obj.sockMap("sock_map");
                SkMsgProgram msg = obj.skMsg("msg_pass");
                ServerSocketChannel listener = ServerSocketChannel.open()
                        .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            map.put(5, listener);
            assertRefused(() -> msg.attach(map).close(), IllegalStateException.class, "SkMsgProgram.attach",
                    "sk_msg program 'msg_pass' -> sockmap 'sock_map': the map already holds sockets",
                    "attach before inserting them (or delete them first)");
            assertThat(map.attachedPrograms(AttachType.SK_MSG_VERDICT)).isEmpty();
        }
    }
}
