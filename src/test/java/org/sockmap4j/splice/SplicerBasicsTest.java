package org.sockmap4j.splice;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.SplicedPair;
import org.sockmap4j.Splicer;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;

/** A client, a proxy's two sockets spliced, an upstream: bytes both ways, FIN both ways, counts. */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class SplicerBasicsTest {
    static byte[] read(SocketChannel ch, int n) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining() && ch.read(b) >= 0) {
            // blocking; bounded by @Timeout
        }
        return b.array();
    }

    @Test
    void bytesFlowBothWaysAndFinPropagates() throws Exception {
        try (Splicer splicer = Splicer.create();
             ServerSocketChannel proxy = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel client = SocketChannel.open(proxy.getLocalAddress())) {
            SocketChannel fromClient = proxy.accept();
            SocketChannel toUpstream = SocketChannel.open(server.getLocalAddress());
            try (SocketChannel upstream = server.accept()) {
                client.write(ByteBuffer.wrap("early".getBytes())); // queued before the splice
                assertThat(toUpstream.getOption(java.net.StandardSocketOptions.TCP_NODELAY)).isFalse();
                SplicedPair pair = splicer.splice(fromClient, ByteBuffer.wrap("HDR:".getBytes()), toUpstream, null);
                // the kernel's forwarding is not held back by Nagle's algorithm
                assertThat(toUpstream.getOption(java.net.StandardSocketOptions.TCP_NODELAY)).isTrue();
                assertThat(fromClient.getOption(java.net.StandardSocketOptions.TCP_NODELAY)).isTrue();
                client.write(ByteBuffer.wrap("late".getBytes()));
                assertThat(new String(read(upstream, 13))).isEqualTo("HDR:earlylate");
                upstream.write(ByteBuffer.wrap("reply".getBytes()));
                assertThat(new String(read(client, 5))).isEqualTo("reply");

                client.shutdownOutput();
                assertThat(upstream.read(ByteBuffer.allocate(1))).isEqualTo(-1); // FIN reached upstream
                upstream.write(ByteBuffer.wrap("bye".getBytes()));
                upstream.shutdownOutput();
                assertThat(new String(read(client, 3))).isEqualTo("bye");
                assertThat(client.read(ByteBuffer.allocate(1))).isEqualTo(-1);

                SplicedPair.Result r = pair.done().get(10, TimeUnit.SECONDS);
                assertThat(r.end()).isEqualTo(SplicedPair.End.COMPLETED);
                assertThat(r.clientToUpstream()).isEqualTo(9); // early + late; HDR: was written by the proxy
                assertThat(r.upstreamToClient()).isEqualTo(8);
                assertThat(fromClient.isOpen()).isFalse();
                assertThat(toUpstream.isOpen()).isFalse();
                assertThat(splicer.stats().pairsOpen()).isZero();
                assertThat(splicer.stats().pairsClosed()).isEqualTo(1);
            }
        }
    }

    @Test
    void noDelayCanBeLeftAlone() throws Exception {
        try (Splicer splicer = Splicer.builder().noDelay(false).maxPairs(4).create();
             ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel a = SocketChannel.open(server.getLocalAddress());
             SocketChannel b = server.accept();
             SocketChannel c = SocketChannel.open(server.getLocalAddress());
             SocketChannel d = server.accept()) {
            SplicedPair pair = splicer.splice(b, c);
            assertThat(b.getOption(java.net.StandardSocketOptions.TCP_NODELAY)).isFalse();
            a.write(ByteBuffer.wrap("x".getBytes()));
            assertThat(new String(read(d, 1))).isEqualTo("x");
            pair.close();
        }
    }
}
