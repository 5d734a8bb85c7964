package org.sockmap4j.cli;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;

/** The upstream of {@code bench proxy}: a loopback TCP echo server, one virtual thread per connection. */
final class EchoServer implements AutoCloseable {
    private final ServerSocketChannel server;
    private final List<SocketChannel> connections = new ArrayList<>();

    EchoServer() throws IOException {
        server = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1024);
        Thread.ofPlatform().daemon().name("bench-echo").start(this::accept);
    }

    int port() throws IOException {
        return ((InetSocketAddress) server.getLocalAddress()).getPort();
    }

    private void accept() {
        while (server.isOpen()) {
            try {
                SocketChannel c = server.accept();
                synchronized (connections) {
                    connections.add(c);
                }
                Thread.ofVirtual().start(() -> echo(c));
            } catch (IOException e) {
                return;
            }
        }
    }

    private static void echo(SocketChannel c) {
        try (c) {
            c.setOption(StandardSocketOptions.TCP_NODELAY, true);
            ByteBuffer b = ByteBuffer.allocateDirect(256 * 1024);
            while (c.read(b) >= 0) {
                b.flip();
                while (b.hasRemaining()) {
                    c.write(b);
                }
                b.clear();
            }
        } catch (IOException e) {
            // client gone
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        synchronized (connections) {
            for (SocketChannel c : connections) {
                c.close();
            }
        }
    }
}
