package org.sockmap4j.reliability;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

/** A TCP connection on loopback: {@link #client} and the server's {@link #accepted} end. */
record TcpPair(SocketChannel client, SocketChannel accepted) implements AutoCloseable {

    static TcpPair open() throws IOException {
        try (ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1);
            SocketChannel client = SocketChannel.open(server.getLocalAddress());
            try {
                return new TcpPair(client, server.accept());
            } catch (IOException | RuntimeException e) {
                client.close();
                throw e;
            }
        }
    }

    @Override
    public void close() throws IOException {
        try (client; accepted) {
            // both closed, even if one close fails
        }
    }
}
