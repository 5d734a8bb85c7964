package org.sockmap4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sockmap4j.testing.FdLeakCheck;

/**
 * {@link ConnectionKey}: the 44-byte layout documented in its Javadoc, round trips, equality and
 * the keys of real loopback connections. No BPF needed.
 */
@ExtendWith(FdLeakCheck.class)
class ConnectionKeyTest {

    private static final KeyCodec<ConnectionKey> CODEC = ConnectionKey.codec();

    private static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal); // a literal: no name lookup
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    private static InetSocketAddress sa(String literal, int port) {
        return new InetSocketAddress(ip(literal), port);
    }

    /** ::ffff:a.b.c.d as a real Inet6Address (InetAddress.getByAddress would turn it into an Inet4Address). */
    private static Inet6Address mapped(String v4) {
        byte[] b = new byte[16];
        b[10] = (byte) 0xff;
        b[11] = (byte) 0xff;
        System.arraycopy(ip(v4).getAddress(), 0, b, 12, 4);
        try {
            return Inet6Address.getByAddress(null, b, -1);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    private static byte[] encode(ConnectionKey k) {
        ByteBuffer b = ByteBuffer.allocateDirect(512).order(ByteOrder.nativeOrder());
        for (int i = 0; i < 512; i++) {
            b.put(i, (byte) 0xa5); // garbage: every byte of the key must be written
        }
        b.clear().limit(ConnectionKey.SIZE);
        CODEC.encode(k, b);
        byte[] out = new byte[ConnectionKey.SIZE];
        b.get(0, out);
        assertThat(b.limit(512).get(ConnectionKey.SIZE)).as("byte after the key").isEqualTo((byte) 0xa5);
        return out;
    }

    private static ConnectionKey decode(byte[] bytes) {
        ByteBuffer b = ByteBuffer.allocateDirect(512).order(ByteOrder.nativeOrder());
        b.put(0, bytes).clear().limit(ConnectionKey.SIZE);
        return CODEC.decode(b);
    }

    /** The layout from ConnectionKey's Javadoc, built by hand. */
    private static byte[] expectedLayout(int family, byte[] remoteIp16, byte[] localIp16, int remotePort,
            int localPort) {
        ByteBuffer e = ByteBuffer.allocate(ConnectionKey.SIZE);
        e.order(ByteOrder.nativeOrder()).putInt(0, family);
        e.put(4, remoteIp16);
        e.put(20, localIp16);
        e.order(ByteOrder.BIG_ENDIAN).putInt(36, remotePort);
        e.order(ByteOrder.nativeOrder()).putInt(40, localPort);
        return e.array();
    }

    private static byte[] v4In16(int a, int b, int c, int d) {
        byte[] r = new byte[16];
        r[0] = (byte) a;
        r[1] = (byte) b;
        r[2] = (byte) c;
        r[3] = (byte) d;
        return r;
    }

    private static byte[] mappedIn16(int a, int b, int c, int d) {
        byte[] r = new byte[16];
        r[10] = (byte) 0xff;
        r[11] = (byte) 0xff;
        r[12] = (byte) a;
        r[13] = (byte) b;
        r[14] = (byte) c;
        r[15] = (byte) d;
        return r;
    }

    // ---- layout ----

    @Test
    void sizeIs44() {
        assertThat(ConnectionKey.SIZE).isEqualTo(44);
        assertThat(CODEC.size()).isEqualTo(44);
        assertThat(ConnectionKey.AF_INET).isEqualTo(2);
        assertThat(ConnectionKey.AF_INET6).isEqualTo(10);
    }

    @Test
    void ipv4LayoutMatchesTheJavadoc() {
        ConnectionKey k = new ConnectionKey(ConnectionKey.AF_INET, sa("127.0.0.1", 0x1234), sa("127.1.2.3", 0xabcd));
        byte[] got = encode(k);
        assertThat(got).containsExactly(expectedLayout(2, v4In16(127, 1, 2, 3), v4In16(127, 0, 0, 1), 0xabcd, 0x1234));

        // spot checks of the documented offsets, independent of expectedLayout()
        ByteBuffer b = ByteBuffer.wrap(got);
        assertThat(b.order(ByteOrder.nativeOrder()).getInt(0)).isEqualTo(2);
        assertThat(Arrays.copyOfRange(got, 4, 8)).containsExactly(127, 1, 2, 3);
        assertThat(Arrays.copyOfRange(got, 8, 20)).containsOnly(0);
        assertThat(Arrays.copyOfRange(got, 20, 24)).containsExactly(127, 0, 0, 1);
        assertThat(Arrays.copyOfRange(got, 24, 36)).containsOnly(0);
        // remote port: network order, in a __u32 whose value is exactly bpf_sock_ops.remote_port
        assertThat(Arrays.copyOfRange(got, 36, 40)).containsExactly(0, 0, 0xab, 0xcd);
        // local port: host order
        assertThat(b.order(ByteOrder.nativeOrder()).getInt(40)).isEqualTo(0x1234);
    }

    @Test
    void ipv6LayoutMatchesTheJavadoc() {
        InetSocketAddress local = sa("::1", 443);
        InetSocketAddress remote = sa("2001:db8::a:b:c", 65535);
        ConnectionKey k = new ConnectionKey(ConnectionKey.AF_INET6, local, remote);
        byte[] got = encode(k);
        assertThat(got).containsExactly(expectedLayout(10, remote.getAddress().getAddress(),
                local.getAddress().getAddress(), 65535, 443));
        assertThat(ByteBuffer.wrap(got).order(ByteOrder.nativeOrder()).getInt(0)).isEqualTo(10);
        assertThat(Arrays.copyOfRange(got, 4, 20)).containsExactly(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0,
                0x0a, 0, 0x0b, 0, 0x0c);
        assertThat(Arrays.copyOfRange(got, 20, 36)).containsExactly(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
        assertThat(Arrays.copyOfRange(got, 36, 40)).containsExactly(0, 0, 0xff, 0xff);
    }

    @Test
    void inet6KeyWithIpv4AddressesUsesV4MappedBytes() {
        ConnectionKey k = new ConnectionKey(ConnectionKey.AF_INET6, sa("127.0.0.1", 40000), sa("10.20.30.40", 80));
        byte[] got = encode(k);
        assertThat(got).containsExactly(expectedLayout(10, mappedIn16(10, 20, 30, 40), mappedIn16(127, 0, 0, 1), 80,
                40000));
        assertThat(Arrays.copyOfRange(got, 4, 20))
                .containsExactly(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 20, 30, 40);
    }

    @Test
    void inet6KeyWithMappedInet6AddressesEncodesLikeIpv4Ones() {
        ConnectionKey plain = new ConnectionKey(ConnectionKey.AF_INET6, sa("127.0.0.1", 1), sa("127.0.0.2", 2));
        ConnectionKey mapped = new ConnectionKey(ConnectionKey.AF_INET6, new InetSocketAddress(mapped("127.0.0.1"), 1),
                new InetSocketAddress(mapped("127.0.0.2"), 2));
        assertThat(encode(mapped)).containsExactly(encode(plain));
        assertThat(decode(encode(mapped))).isEqualTo(plain);
    }

    @Test
    void encodingZeroesEveryByteItDoesNotSet() {
        ConnectionKey k = new ConnectionKey(ConnectionKey.AF_INET, sa("0.0.0.0", 0), sa("0.0.0.0", 0));
        byte[] got = encode(k);
        assertThat(Arrays.copyOfRange(got, 4, 44)).containsOnly(0);
    }

    // ---- round trips ----

    @ParameterizedTest
    @ValueSource(strings = {"2|127.0.0.1|1|127.0.0.2|65535", "2|192.0.2.1|80|198.51.100.7|54321",
            "10|::1|443|::1|50000", "10|2001:db8::1|1|fe80::1|2", "10|127.0.0.1|9|127.0.0.1|10",
            "10|::|0|::|0", "2|0.0.0.0|0|255.255.255.255|32768"})
    void decodeOfEncodeIsTheKey(String spec) {
        String[] f = spec.split("\\|");
        ConnectionKey k = new ConnectionKey(Integer.parseInt(f[0]), sa(f[1], Integer.parseInt(f[2])),
                sa(f[3], Integer.parseInt(f[4])));
        ConnectionKey back = decode(encode(k));
        assertThat(back).isEqualTo(k).hasSameHashCodeAs(k);
        assertThat(back.family()).isEqualTo(k.family());
        assertThat(back.local().getPort()).isEqualTo(k.local().getPort());
        assertThat(back.remote().getPort()).isEqualTo(k.remote().getPort());
        assertThat(back.local().getAddress().getAddress()).containsExactly(k.local().getAddress().getAddress());
        assertThat(back.remote().getAddress().getAddress()).containsExactly(k.remote().getAddress().getAddress());
        assertThat(encode(back)).containsExactly(encode(k));
    }

    @Test
    void decodedInetKeysHaveIpv4Addresses() {
        ConnectionKey back = decode(encode(new ConnectionKey(2, sa("127.0.0.1", 5), sa("127.0.0.9", 6))));
        assertThat(back.local().getAddress()).isInstanceOf(Inet4Address.class);
        assertThat(back.remote().getAddress()).isInstanceOf(Inet4Address.class);
    }

    // ---- equality, reversed, of(...) ----

    @Test
    void equalityComparesAddressBytesAndPorts() {
        ConnectionKey a = new ConnectionKey(10, sa("127.0.0.1", 1000), sa("127.0.0.1", 2000));
        // "::ffff:127.0.0.1" is parsed by the JDK into 127.0.0.1: the v4-mapped form of the same address
        ConnectionKey b = new ConnectionKey(10, sa("::ffff:127.0.0.1", 1000), sa("::ffff:127.0.0.1", 2000));
        assertThat(a).isEqualTo(b).hasSameHashCodeAs(b);
        assertThat(a).isNotEqualTo(new ConnectionKey(10, sa("127.0.0.1", 1001), sa("127.0.0.1", 2000)));
        assertThat(a).isNotEqualTo(new ConnectionKey(10, sa("127.0.0.1", 1000), sa("127.0.0.2", 2000)));
        assertThat(a).isNotEqualTo(new ConnectionKey(2, sa("127.0.0.1", 1000), sa("127.0.0.1", 2000)));
        assertThat(a).isNotEqualTo(a.reversed());
        assertThat(a).isNotEqualTo(null).isNotEqualTo("inet6");
        // a hostname does not matter, only the bytes
        ConnectionKey named = new ConnectionKey(10,
                new InetSocketAddress(InetAddressOf.named("localhost", 127, 0, 0, 1), 1000), sa("127.0.0.1", 2000));
        assertThat(named).isEqualTo(a).hasSameHashCodeAs(a);
    }

    /**
     * 127.0.0.1 as an Inet4Address and as a v4-mapped Inet6Address encode to the same 44 bytes in an
     * AF_INET6 key, so they should be equal keys, as the Javadoc of equals() promises ("127.0.0.1
     * equals its v4-mapped form"). equals() compares getAddress() arrays of different lengths (4 vs
     * 16), so they are not.
     */
    @Test
    void v4MappedInet6AddressEqualsTheIpv4Address() {
        ConnectionKey plain = new ConnectionKey(10, sa("127.0.0.1", 1), sa("127.0.0.2", 2));
        ConnectionKey mapped = new ConnectionKey(10, new InetSocketAddress(mapped("127.0.0.1"), 1),
                new InetSocketAddress(mapped("127.0.0.2"), 2));
        assertThat(mapped).isEqualTo(plain).hasSameHashCodeAs(plain);
    }

    @Test
    void reversedSwapsLocalAndRemote() {
        ConnectionKey k = new ConnectionKey(10, sa("::1", 1), sa("::1", 2));
        ConnectionKey r = k.reversed();
        assertThat(r.family()).isEqualTo(10);
        assertThat(r.local()).isEqualTo(k.remote());
        assertThat(r.remote()).isEqualTo(k.local());
        assertThat(r.reversed()).isEqualTo(k);
        byte[] e = encode(k);
        byte[] er = encode(r);
        assertThat(Arrays.copyOfRange(er, 4, 20)).containsExactly(Arrays.copyOfRange(e, 20, 36));
        assertThat(Arrays.copyOfRange(er, 20, 36)).containsExactly(Arrays.copyOfRange(e, 4, 20));
    }

    @Test
    void ofPicksTheFamilyFromTheAddresses() {
        assertThat(ConnectionKey.of(sa("127.0.0.1", 1), sa("127.0.0.2", 2)).family()).isEqualTo(2);
        assertThat(ConnectionKey.of(sa("::1", 1), sa("::1", 2)).family()).isEqualTo(10);
        assertThat(ConnectionKey.of(sa("127.0.0.1", 1), sa("::1", 2)).family()).isEqualTo(10);
        assertThat(ConnectionKey.of(sa("::1", 1), sa("127.0.0.1", 2)).family()).isEqualTo(10);
    }

    @Test
    void toStringShowsFamilyAndEndpoints() {
        assertThat(new ConnectionKey(2, sa("127.0.0.1", 1), sa("127.0.0.2", 2)))
                .hasToString("inet 127.0.0.1:1 -> 127.0.0.2:2");
        assertThat(new ConnectionKey(10, sa("::1", 1), sa("::1", 2)).toString())
                .startsWith("inet6 [").contains(":1]:1 -> [").endsWith("]:2");
    }

    // ---- constructor checks ----

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 3, 9, 11, 40, -2, 0x0200})
    void rejectsOtherFamilies(int family) {
        assertThatThrownBy(() -> new ConnectionKey(family, sa("127.0.0.1", 1), sa("127.0.0.1", 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(Integer.toString(family));
    }

    @Test
    void inetRejectsIpv6Addresses() {
        assertThatThrownBy(() -> new ConnectionKey(2, sa("::1", 1), sa("127.0.0.1", 2)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ConnectionKey(2, sa("127.0.0.1", 1), sa("::1", 2)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ConnectionKey(2, new InetSocketAddress(mapped("127.0.0.1"), 1),
                sa("127.0.0.1", 2))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void rejectsUnresolvedAndNullAddresses() {
        InetSocketAddress unresolved = InetSocketAddress.createUnresolved("localhost", 80);
        assertThatThrownBy(() -> new ConnectionKey(2, unresolved, sa("127.0.0.1", 2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("resolved");
        assertThatThrownBy(() -> new ConnectionKey(10, sa("::1", 2), unresolved))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("resolved");
        assertThatThrownBy(() -> new ConnectionKey(2, null, sa("127.0.0.1", 2)))
                .isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> new ConnectionKey(2, sa("127.0.0.1", 2), null))
                .isInstanceOf(NullPointerException.class);
    }

    // ---- keys of real loopback connections ----

    @Test
    @Timeout(30)
    void keyOfIpv4LoopbackConnectionMatchesTheKernelsAddresses() throws Exception {
        checkLoopbackConnection(StandardProtocolFamily.INET, "127.0.0.1");
    }

    @Test
    @Timeout(30)
    void keyOfIpv6LoopbackConnectionMatchesTheKernelsAddresses() throws Exception {
        checkLoopbackConnection(StandardProtocolFamily.INET6, "::1");
    }

    @Test
    @Timeout(30)
    void keyOfDefaultFamilyConnectionIsInet6WithMappedAddresses() throws Exception {
        // SocketChannel.open() without a family: the JDK makes an AF_INET6 socket when IPv6 is available
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(sa("127.0.0.1", 0));
                SocketChannel client = SocketChannel.open(server.getLocalAddress());
                SocketChannel accepted = server.accept()) {
            int domain = SocketProbe.intOption(Sockets.fd(client), SocketProbe.SO_DOMAIN);
            ConnectionKey k = ConnectionKey.of(client);
            assertThat(k.family()).isEqualTo(domain);
            if (domain == ConnectionKey.AF_INET6) {
                byte[] e = encode(k);
                assertThat(Arrays.copyOfRange(e, 4, 20)).containsExactly(mappedIn16(127, 0, 0, 1));
                assertThat(Arrays.copyOfRange(e, 20, 36)).containsExactly(mappedIn16(127, 0, 0, 1));
            }
            assertThat(ConnectionKey.of(client).reversed()).isEqualTo(ConnectionKey.of(accepted));
        }
    }

    private static void checkLoopbackConnection(StandardProtocolFamily family, String loopback) throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open(family).bind(sa(loopback, 0));
                SocketChannel client = SocketChannel.open(family)) {
            client.connect(server.getLocalAddress());
            try (SocketChannel accepted = server.accept()) {
                InetSocketAddress local = (InetSocketAddress) client.getLocalAddress();
                InetSocketAddress remote = (InetSocketAddress) client.getRemoteAddress();
                int af = family == StandardProtocolFamily.INET ? 2 : 10;

                ConnectionKey k = ConnectionKey.of(client);
                assertThat(k.family()).isEqualTo(af)
                        .isEqualTo(SocketProbe.intOption(Sockets.fd(client), SocketProbe.SO_DOMAIN));
                assertThat(k).isEqualTo(new ConnectionKey(af, local, remote));
                assertThat(k.local().getPort()).isEqualTo(local.getPort()).isNotZero();
                assertThat(k.remote().getPort()).isEqualTo(((InetSocketAddress) server.getLocalAddress()).getPort());
                assertThat(k.local().getAddress()).isEqualTo(ip(loopback));
                assertThat(k.remote().getAddress()).isEqualTo(ip(loopback));

                ConnectionKey a = ConnectionKey.of(accepted);
                assertThat(a).isEqualTo(new ConnectionKey(af, (InetSocketAddress) accepted.getLocalAddress(),
                        (InetSocketAddress) accepted.getRemoteAddress()));
                assertThat(k.reversed()).isEqualTo(a);
                assertThat(a.reversed()).isEqualTo(k);
                assertThat(ConnectionKey.of(Sockets.fd(client))).isEqualTo(k);
            }
        }
    }

    @Test
    @Timeout(30)
    void keyOfAListenerOrUnconnectedSocketIsRefused() throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(sa("127.0.0.1", 0));
                SocketChannel unconnected = SocketChannel.open()) {
            assertThatThrownBy(() -> ConnectionKey.of(server)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> ConnectionKey.of(unconnected)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    /** An InetAddress with a host name attached. */
    private static final class InetAddressOf {
        static InetAddress named(String host, int a, int b, int c, int d) {
            try {
                return InetAddress.getByAddress(host, new byte[] {(byte) a, (byte) b, (byte) c, (byte) d});
            } catch (UnknownHostException e) {
                throw new AssertionError(e);
            }
        }
    }
}
