package org.sockmap4j.programs;

import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Set;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.BpfObject;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.SockMap;
import org.sockmap4j.SockMapIterProgram;
import org.sockmap4j.Sockets;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.KernelAssume;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Copying sockets between maps with a sockmap iterator keeps their cookies. */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(30)
class SockMapIteratorTest {
    @Test
    void iteratorCopiesEverySocketWithItsCookie() throws Exception {
        if (!KernelFeatures.probe().has(KernelFeatures.Feature.SOCKMAP_ITER)) {
            // what a user gets here: a typed error at load, and nothing leaked (FdLeakCheck)
            assertThatThrownBy(() -> BpfObject.openBundled("sockmap_iter").load().close())
                    .isInstanceOf(org.sockmap4j.BpfException.class);
            KernelAssume.has(KernelFeatures.Feature.SOCKMAP_ITER); // skips, saying why
        }
        try (BpfObject obj = BpfObject.openBundled("sockmap_iter").load();
             SockMap dst = obj.sockMap("dst");
             SockMapIterProgram copy = obj.sockMapIter("copy_sockmap");
             SockMap src = SockMap.builder().maxEntries(8).name("src").create();
             ServerSocketChannel srv = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel a = SocketChannel.open(srv.getLocalAddress()); SocketChannel b = srv.accept()) {
            src.put(2, a);
            src.put(5, b);
            src.put(7, srv);
            String out = copy.run(src);
            Set<String> lines = out.lines().collect(Collectors.toSet());
            assertThat(lines).containsExactlyInAnyOrder(
                    "2 " + Sockets.cookie(a), "5 " + Sockets.cookie(b), "7 " + Sockets.cookie(srv));
            assertThat(dst.keys()).containsExactly(2, 5, 7);
            for (int k : new int[] {2, 5, 7}) {
                assertThat(dst.cookie(k)).isEqualTo(src.cookie(k));
            }
        }
    }
}
