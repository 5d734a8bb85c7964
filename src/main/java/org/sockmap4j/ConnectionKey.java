package org.sockmap4j;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.NetworkChannel;
import java.util.Arrays;
import java.util.Objects;

import org.sockmap4j.internal.unix.ChannelFds;
import org.sockmap4j.internal.unix.Libc;
import org.sockmap4j.internal.unix.SockAddr;

/**
 * A TCP or UDP connection's 4-tuple as the kernel shows it to BPF programs in
 * {@code bpf_sock_ops} and {@code sk_msg_md} (Linux 4.14+/4.17+), used as a {@link SockHash}
 * key. The family is the socket's own: a JDK socket is usually AF_INET6 even when it talks IPv4
 * (its addresses are then v4-mapped, {@code ::ffff:a.b.c.d}), and BPF programs see it that way.
 * Immutable; the encoded form is computed once, so map operations with a key allocate nothing.
 *
 * <p>Key layout (44 bytes, shared with {@code bpf/sockmap4j.h}):
 * <pre>
 *  0  __u32 family        AF_INET (2) or AF_INET6 (10), native order
 *  4  __u8  remote_ip[16] network order; IPv4 in the first 4 bytes, the rest 0
 * 20  __u8  local_ip[16]  idem
 * 36  __u32 remote_port   network order, exactly as bpf_sock_ops.remote_port
 * 40  __u32 local_port    host order, exactly as bpf_sock_ops.local_port
 * </pre>
 */
public final class ConnectionKey {
    /** AF_INET. */
    public static final int AF_INET = 2;
    /** AF_INET6. */
    public static final int AF_INET6 = 10;
    /** Size of the encoded key in bytes. */
    public static final int SIZE = 44;

    private static final KeyCodec<ConnectionKey> CODEC = new Codec();

    private final int family;
    private final InetSocketAddress local;
    private final InetSocketAddress remote;
    private final byte[] encoded;

    /**
     * @param family {@link #AF_INET} (2) or {@link #AF_INET6} (10)
     * @param local the socket's own address and port
     * @param remote the peer's address and port
     */
    public ConnectionKey(int family, InetSocketAddress local, InetSocketAddress remote) {
        if (family != AF_INET && family != AF_INET6) {
            throw new IllegalArgumentException("family must be AF_INET (2) or AF_INET6 (10), got " + family);
        }
        Objects.requireNonNull(local, "local");
        Objects.requireNonNull(remote, "remote");
        if (local.isUnresolved() || remote.isUnresolved()) {
            throw new IllegalArgumentException("addresses must be resolved: " + local + ", " + remote);
        }
        if (family == AF_INET && (local.getAddress() instanceof Inet6Address || remote.getAddress() instanceof Inet6Address)) {
            throw new IllegalArgumentException("an AF_INET key needs IPv4 addresses: " + local + ", " + remote);
        }
        this.family = family;
        this.local = local;
        this.remote = remote;
        this.encoded = encode(family, local, remote);
    }

    /** AF_INET (2) or AF_INET6 (10). */
    public int family() {
        return family;
    }

    /** The socket's own address and port. */
    public InetSocketAddress local() {
        return local;
    }

    /** The peer's address and port. */
    public InetSocketAddress remote() {
        return remote;
    }

    private static byte[] encode(int family, InetSocketAddress local, InetSocketAddress remote) {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.nativeOrder());
        b.putInt(0, family);
        putIp(b, 4, family, remote.getAddress());
        putIp(b, 20, family, local.getAddress());
        b.order(ByteOrder.BIG_ENDIAN).putInt(36, remote.getPort()).order(ByteOrder.nativeOrder());
        b.putInt(40, local.getPort());
        return b.array();
    }

    private static void putIp(ByteBuffer dst, int at, int family, InetAddress a) {
        byte[] b = a.getAddress();
        if (family == AF_INET6 && b.length == 4) { // v4-mapped
            dst.put(at + 10, (byte) 0xff).put(at + 11, (byte) 0xff).put(at + 12, b);
        } else {
            dst.put(at, b);
        }
    }

    /** An AF_INET key for IPv4 addresses, AF_INET6 otherwise. */
    public static ConnectionKey of(InetSocketAddress local, InetSocketAddress remote) {
        boolean v4 = local.getAddress() instanceof Inet4Address && remote.getAddress() instanceof Inet4Address;
        return new ConnectionKey(v4 ? AF_INET : AF_INET6, local, remote);
    }

    /**
     * The key of the connected socket {@code fd}, read from the kernel ({@code getsockname},
     * {@code getpeername}).
     *
     * @throws IllegalArgumentException if {@code fd} is not a connected TCP/UDP socket
     */
    public static ConnectionKey of(int fd) {
        SockAddr.Raw l = SockAddr.local(fd);
        SockAddr.Raw r = SockAddr.peer(fd);
        if (l == null || r == null || (l.family() != AF_INET && l.family() != AF_INET6)) {
            throw new IllegalArgumentException("fd " + fd + " is not a connected IPv4/IPv6 socket");
        }
        return new ConnectionKey(l.family(), (InetSocketAddress) l.toSocketAddress(),
                (InetSocketAddress) r.toSocketAddress());
    }

    /** The key of a connected {@code SocketChannel} or {@code DatagramChannel}, as the kernel sees it. */
    public static ConnectionKey of(NetworkChannel channel) {
        return of(ChannelFds.fdOf(channel));
    }

    /** The key the peer socket of this connection has: local and remote swapped. */
    public ConnectionKey reversed() {
        return new ConnectionKey(family, remote, local);
    }

    /** The codec for {@link SockHash}: {@code SockHash.create(ConnectionKey.codec(), n)}. */
    public static KeyCodec<ConnectionKey> codec() {
        return CODEC;
    }

    private static final class Codec implements KeyCodec<ConnectionKey> {
        @Override
        public int size() {
            return SIZE;
        }

        @Override
        public void encode(ConnectionKey k, ByteBuffer dst) {
            Codecs.sized(dst, this);
            if (dst.order() == ByteOrder.nativeOrder()) {
                dst.put(0, k.encoded);
            } else {
                ByteBuffer b = ByteBuffer.wrap(k.encoded).order(ByteOrder.nativeOrder());
                dst.putInt(0, b.getInt(0)).put(4, k.encoded, 4, 32);
                ByteOrder order = dst.order();
                dst.order(ByteOrder.BIG_ENDIAN).putInt(36, k.remote.getPort()).order(order);
                dst.putInt(40, b.getInt(40));
            }
        }

        @Override
        public ConnectionKey decode(ByteBuffer src) {
            Codecs.sized(src, this);
            int family = src.getInt(0);
            ByteOrder order = src.order();
            int remotePort = src.order(ByteOrder.BIG_ENDIAN).getInt(36);
            src.order(order);
            int localPort = src.getInt(40);
            return new ConnectionKey(family, new InetSocketAddress(ip(src, 20, family), localPort & 0xffff),
                    new InetSocketAddress(ip(src, 4, family), remotePort & 0xffff));
        }

        private static InetAddress ip(ByteBuffer src, int at, int family) {
            byte[] b = new byte[family == AF_INET ? 4 : 16];
            src.get(at, b);
            try {
                return InetAddress.getByAddress(b);
            } catch (UnknownHostException e) {
                throw new AssertionError(e);
            }
        }

        @Override
        public String toString() {
            return "connection 4-tuple (" + SIZE + " bytes)";
        }
    }

    @Override
    public String toString() {
        return (family == AF_INET ? "inet " : "inet6 ") + fmt(local) + " -> " + fmt(remote);
    }

    private static String fmt(InetSocketAddress a) {
        String h = a.getAddress().getHostAddress();
        return (h.indexOf(':') >= 0 ? "[" + h + "]" : h) + ":" + a.getPort();
    }

    /**
     * Equality compares what the key encodes to: in an AF_INET6 key {@code 127.0.0.1} equals its
     * v4-mapped form {@code ::ffff:127.0.0.1}, however the {@link InetAddress} was made.
     */
    @Override
    public boolean equals(Object o) {
        return o instanceof ConnectionKey k && Arrays.equals(k.encoded, encoded);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(encoded);
    }
}
