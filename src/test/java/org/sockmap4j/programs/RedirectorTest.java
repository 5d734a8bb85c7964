package org.sockmap4j.programs;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.recipes.Redirector;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The Redirector recipe: the target slot switches at run time. */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class RedirectorTest {
    private static byte[] read(SocketChannel ch, int n) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining() && ch.read(b) >= 0) {
            // blocking read, bounded by @Timeout
        }
        return b.array();
    }

    @Test
    void sendToLocalFollowsTheTargetSlot() throws Exception {
        try (Redirector r = Redirector.create(Redirector.Mode.SEND_TO_LOCAL);
             ServerSocketChannel srv = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel src = SocketChannel.open(srv.getLocalAddress()); SocketChannel srcPeer = srv.accept();
             SocketChannel t1 = SocketChannel.open(srv.getLocalAddress()); SocketChannel t1Peer = srv.accept();
             SocketChannel t2 = SocketChannel.open(srv.getLocalAddress()); SocketChannel t2Peer = srv.accept()) {
            int s = r.add(src);
            int a = r.add(t1);
            int b = r.add(t2);
            assertThat(new int[] {s, a, b}).containsExactly(0, 1, 2);
            r.target(a);
            src.write(ByteBuffer.wrap("one".getBytes()));
            assertThat(read(t1, 3)).isEqualTo("one".getBytes());
            r.target(b);
            src.write(ByteBuffer.wrap("two".getBytes()));
            assertThat(read(t2, 3)).isEqualTo("two".getBytes());
            assertThat(r.stats().redirectedBytes()).isEqualTo(6);
            assertThatThrownBy(() -> r.target(64)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void ingressToEgressForwardsWhatTheSourceReceives() throws Exception {
        try (Redirector r = Redirector.create(Redirector.Mode.INGRESS_TO_EGRESS);
             ServerSocketChannel srv = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel client = SocketChannel.open(srv.getLocalAddress()); SocketChannel proxyIn = srv.accept();
             SocketChannel proxyOut = SocketChannel.open(srv.getLocalAddress());
             SocketChannel upstream = srv.accept()) {
            r.add(proxyIn);
            r.target(r.add(proxyOut));
            client.write(ByteBuffer.wrap("through the kernel".getBytes()));
            assertThat(read(upstream, 18)).isEqualTo("through the kernel".getBytes());
        }
    }
}
