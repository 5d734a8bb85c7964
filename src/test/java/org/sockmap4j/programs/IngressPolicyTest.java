package org.sockmap4j.programs;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.recipes.IngressPolicy;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;

/** Ingress policy on loopback: a peer bound to a denied 127.0.0.x address is not heard. */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class IngressPolicyTest {
    private static int read(SocketChannel ch, int want) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(want);
        long deadline = System.nanoTime() + 2_000_000_000L; // bounded wait for data that should come
        ch.configureBlocking(false);
        while (b.hasRemaining() && System.nanoTime() < deadline) {
            if (ch.read(b) < 0) {
                break;
            }
            Thread.sleep(b.hasRemaining() ? 5 : 0);
        }
        return b.position();
    }

    @Test
    void dataFromDeniedPeersIsDroppedAndFromOthersPasses() throws Exception {
        try (IngressPolicy policy = IngressPolicy.create().deny("127.0.0.2/32");
             ServerSocketChannel srv = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel good = SocketChannel.open();
             SocketChannel bad = SocketChannel.open()) {
            good.bind(new InetSocketAddress("127.0.0.1", 0)).connect(srv.getLocalAddress());
            try (SocketChannel goodIn = srv.accept()) {
                bad.bind(new InetSocketAddress("127.0.0.2", 0)).connect(srv.getLocalAddress());
                try (SocketChannel badIn = srv.accept()) {
                    policy.add(goodIn);
                    policy.add(badIn);
                    good.write(ByteBuffer.wrap(new byte[100]));
                    bad.write(ByteBuffer.wrap(new byte[100]));
                    assertThat(read(goodIn, 100)).isEqualTo(100);
                    assertThat(read(badIn, 1)).isZero(); // FIONREAD is 0 after a drop
                    assertThat(policy.stats().droppedBytes()).isEqualTo(100);
                    assertThat(policy.stats().passedBytes()).isEqualTo(100);

                    assertThat(policy.allow("127.0.0.2/32")).isTrue(); // live edit, no re-attach
                    bad.write(ByteBuffer.wrap(new byte[50]));
                    assertThat(read(badIn, 50)).isEqualTo(50);
                }
            }
        }
    }
}
