package org.sockmap4j.programs;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.DatagramChannel;
import java.nio.channels.NetworkChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.sockmap4j.SockMap;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.Sockets;
import org.sockmap4j.internal.unix.Libc;
import org.sockmap4j.internal.unix.VsockPair;
import org.sockmap4j.testing.KernelAssume;

/**
 * Two connected sockets on loopback of one kind: {@link #mapped} is the end a test puts into a
 * socket map, {@link #peer} the other end. TCP, UDP (two bound and connected DatagramChannels on
 * 127.0.0.1) and UNIX stream are JDK channels; UNIX dgram is a raw {@code socketpair}. Reads and
 * writes go through {@link RawSockets} on the fds, so errnos are exact. Opening a kind the
 * kernel cannot put into a socket map (UDP before 5.7, UNIX before 5.15, VSOCK before 6.4 or
 * without vsock_loopback) skips the test. VSOCK pairs are raw connected sockets on the local CID.
 */
final class ConnectedPair implements AutoCloseable {
    /** The socket kinds: the first four make the redirect matrix; VSOCK has its own cases. */
    enum Kind {
        TCP, UDP, UNIX_STREAM, UNIX_DGRAM, VSOCK_STREAM, VSOCK_SEQPACKET;

        /** The kinds of the redirect matrix (every kernel from 5.15 has them all). */
        static final Kind[] MATRIX = {TCP, UDP, UNIX_STREAM, UNIX_DGRAM};

        boolean stream() {
            return this == TCP || this == UNIX_STREAM || this == VSOCK_STREAM;
        }
    }

    private static final AtomicInteger UNIX_NAMES = new AtomicInteger();

    final Kind kind;
    /** The fd of the end that goes into the map. */
    final int mapped;
    /** The fd of the other end. */
    final int peer;
    private final NetworkChannel mappedChannel;
    private final List<NetworkChannel> channels;
    private final int[] rawFds;
    private boolean mappedClosed;
    private boolean closed;

    private ConnectedPair(Kind kind, int mapped, int peer, NetworkChannel mappedChannel, List<NetworkChannel> channels,
            int[] rawFds) {
        this.kind = kind;
        this.mapped = mapped;
        this.peer = peer;
        this.mappedChannel = mappedChannel;
        this.channels = channels;
        this.rawFds = rawFds;
    }

    /** Opens a connected pair of {@code kind}; UNIX stream sockets get a fresh name under {@code dir}. */
    static ConnectedPair open(Kind kind, Path dir) throws IOException {
        switch (kind) {
            case UDP -> KernelAssume.has(KernelFeatures.Feature.UDP_SOCKETS);
            case UNIX_STREAM -> KernelAssume.has(KernelFeatures.Feature.UNIX_STREAM_SOCKETS);
            case UNIX_DGRAM -> KernelAssume.has(KernelFeatures.Feature.UNIX_DGRAM_SOCKETS);
            case VSOCK_STREAM, VSOCK_SEQPACKET -> KernelAssume.has(KernelFeatures.Feature.VSOCK_SOCKETS);
            default -> { }
        }
        List<NetworkChannel> opened = new ArrayList<>();
        try {
            switch (kind) {
                case TCP -> {
                    try (ServerSocketChannel server = ServerSocketChannel.open()) {
                        server.bind(new InetSocketAddress("127.0.0.1", 0));
                        SocketChannel a = SocketChannel.open();
                        opened.add(a);
                        a.connect(server.getLocalAddress());
                        SocketChannel b = server.accept();
                        opened.add(b);
                        return new ConnectedPair(kind, Sockets.fd(a), Sockets.fd(b), a, opened, new int[0]);
                    }
                }
                case UDP -> {
                    DatagramChannel a = DatagramChannel.open(StandardProtocolFamily.INET);
                    opened.add(a);
                    DatagramChannel b = DatagramChannel.open(StandardProtocolFamily.INET);
                    opened.add(b);
                    a.bind(new InetSocketAddress("127.0.0.1", 0));
                    b.bind(new InetSocketAddress("127.0.0.1", 0));
                    a.connect(b.getLocalAddress());
                    b.connect(a.getLocalAddress());
                    return new ConnectedPair(kind, Sockets.fd(a), Sockets.fd(b), a, opened, new int[0]);
                }
                case UNIX_STREAM -> {
                    Path path = dir.resolve("s" + UNIX_NAMES.incrementAndGet());
                    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
                        server.bind(UnixDomainSocketAddress.of(path));
                        SocketChannel a = SocketChannel.open(StandardProtocolFamily.UNIX);
                        opened.add(a);
                        a.connect(server.getLocalAddress());
                        SocketChannel b = server.accept();
                        opened.add(b);
                        return new ConnectedPair(kind, Sockets.fd(a), Sockets.fd(b), a, opened, new int[0]);
                    } finally {
                        Files.deleteIfExists(path);
                    }
                }
                case UNIX_DGRAM -> {
                    int[] sv = RawSockets.socketpair(RawSockets.SOCK_DGRAM);
                    return new ConnectedPair(kind, sv[0], sv[1], null, opened, sv);
                }
                case VSOCK_STREAM, VSOCK_SEQPACKET -> {
                    VsockPair v;
                    try {
                        v = VsockPair.open(kind == Kind.VSOCK_STREAM ? Libc.SOCK_STREAM : Libc.SOCK_SEQPACKET);
                    } catch (VsockPair.Failed e) {
                        throw new IOException("a connected " + kind + " pair: " + e.getMessage(), e);
                    }
                    return new ConnectedPair(kind, v.server(), v.client(), null, opened,
                            new int[] {v.server(), v.client()});
                }
                default -> throw new AssertionError(kind);
            }
        } catch (IOException | RuntimeException | Error e) {
            for (NetworkChannel c : opened) {
                try {
                    c.close();
                } catch (IOException ignored) {
                    // closing the rest
                }
            }
            throw e;
        }
    }

    /** Puts the mapped end into {@code map} at {@code index}: by channel where there is one, else by fd. */
    void insert(SockMap map, int index) {
        if (mappedChannel != null) {
            map.put(index, mappedChannel);
        } else {
            map.put(index, mapped);
        }
    }

    /** The JDK channel of the mapped end (TCP, UDP, UNIX stream); null for UNIX dgram. */
    NetworkChannel mappedChannel() {
        return mappedChannel;
    }

    /** The JDK channel of the peer end; null for UNIX dgram. */
    NetworkChannel peerChannel() {
        return channels.size() > 1 ? channels.get(1) : null;
    }

    /** Closes only the mapped end (its peer stays open); {@link #close()} then skips it. */
    void closeMappedEnd() throws IOException {
        if (mappedClosed) {
            return;
        }
        mappedClosed = true;
        if (mappedChannel != null) {
            mappedChannel.close();
        } else {
            RawSockets.close(mapped);
        }
    }

    /** Closes both ends; idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (NetworkChannel c : channels) {
            try {
                c.close();
            } catch (IOException ignored) {
                // closing the rest
            }
        }
        for (int fd : rawFds) {
            if (!(fd == mapped && mappedClosed)) {
                RawSockets.close(fd);
            }
        }
        mappedClosed = true;
    }

    @Override
    public String toString() {
        return kind + " pair (mapped fd " + mapped + ", peer fd " + peer + ")";
    }
}
