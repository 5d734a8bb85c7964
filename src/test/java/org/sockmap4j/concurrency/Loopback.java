package org.sockmap4j.concurrency;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

import org.sockmap4j.Sockets;

/**
 * A loopback TCP listener that hands out established connections, for the concurrency tests:
 * both ends of each connection are sockets a socket map takes.
 */
final class Loopback implements AutoCloseable {
    private final ServerSocketChannel listener;

    private Loopback(ServerSocketChannel listener) {
        this.listener = listener;
    }

    static Loopback open() throws IOException {
        ServerSocketChannel l = ServerSocketChannel.open();
        try {
            l.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
            return new Loopback(l);
        } catch (IOException | RuntimeException e) {
            l.close();
            throw e;
        }
    }

    /** A new established connection: the client end and the accepted end, with fds and cookies. */
    Conn connect() throws IOException {
        SocketChannel client = SocketChannel.open(listener.getLocalAddress());
        try {
            SocketChannel server = listener.accept();
            return new Conn(client, server, Sockets.fd(client), Sockets.fd(server), Sockets.cookie(client),
                    Sockets.cookie(server));
        } catch (IOException | RuntimeException e) {
            client.close();
            throw e;
        }
    }

    @Override
    public void close() throws IOException {
        listener.close();
    }

    /** Both ends of one connection. {@link #close()} closes both. */
    record Conn(SocketChannel client, SocketChannel server, int clientFd, int serverFd, long clientCookie,
            long serverCookie) implements AutoCloseable {

        int fd(int side) {
            return side == 0 ? clientFd : serverFd;
        }

        long cookie(int side) {
            return side == 0 ? clientCookie : serverCookie;
        }

        @Override
        public void close() throws IOException {
            try {
                client.close();
            } finally {
                server.close();
            }
        }
    }
}
