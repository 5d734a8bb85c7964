package org.sockmap4j.internal.unix;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.function.LongSupplier;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.sockmap4j.Sockets;

/**
 * The byte counts the Splicer reads from a TCP socket, checked against what a loopback
 * connection really sent, queued and read. No privileges needed.
 */
@Timeout(30)
class TcpQueuesTest {
    /** Polls until {@code value} reaches {@code want} (data and FINs cross loopback in softirq), bounded. */
    private static long await(LongSupplier value, long want) throws InterruptedException {
        long v = value.getAsLong();
        for (int i = 0; i < 500 && v != want; i++) {
            Thread.sleep(10);
            v = value.getAsLong();
        }
        return v;
    }

    @Test
    void countsSentReceivedConsumedAndTheFin() throws IOException, InterruptedException {
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel client = SocketChannel.open(server.getLocalAddress());
             SocketChannel accepted = server.accept()) {
            int c = Sockets.fd(client);
            int a = Sockets.fd(accepted);
            assertThat(TcpQueues.receivedByTcp(a)).isZero();
            assertThat(TcpQueues.consumedByReader(a)).isZero();

            // the connecting side's SYN counts as acked: compare differences, as the Splicer does
            long handed0 = TcpQueues.handedToTcp(c);
            ByteBuffer out = ByteBuffer.allocate(100);
            while (out.hasRemaining()) {
                client.write(out);
            }
            assertThat(await(() -> TcpQueues.receivedByTcp(a), 100)).isEqualTo(100);
            assertThat(TcpQueues.handedToTcp(c) - handed0).isEqualTo(100);
            assertThat(TcpQueues.consumedByReader(a)).as("nothing read yet").isZero();

            ByteBuffer in = ByteBuffer.allocate(30);
            while (in.hasRemaining()) {
                accepted.read(in);
            }
            assertThat(TcpQueues.consumedByReader(a)).isEqualTo(30);

            client.shutdownOutput();
            assertThat(await(() -> TcpQueues.receivedByTcp(a), 101)).as("the FIN takes one").isEqualTo(101);
            assertThat(TcpQueues.consumedByReader(a)).as("the FIN is not data anybody read").isEqualTo(30);
        }
    }

    @Test
    void aClosedOrNonTcpFdCannotSay() throws IOException {
        assertThat(TcpQueues.receivedByTcp(-1)).isEqualTo(-1);
        assertThat(TcpQueues.consumedByReader(-1)).isEqualTo(-1);
        assertThat(TcpQueues.handedToTcp(-1)).isEqualTo(-1);
        try (DatagramChannel udp = DatagramChannel.open()) {
            int u = Sockets.fd(udp);
            assertThat(TcpQueues.consumedByReader(u)).isEqualTo(-1);
        }
    }
}
