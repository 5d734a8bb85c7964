package org.sockmap4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.sockmap4j.MapTestSupport.assertKernelError;
import static org.sockmap4j.MapTestSupport.entryMap;
import static org.sockmap4j.MapTestSupport.fdinfo;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sockmap4j.MapTestSupport.Kind;
import org.sockmap4j.MapTestSupport.Tcp;
import org.sockmap4j.testing.BpfFs;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TempBpfDir;

/**
 * {@link SockHash} on the real kernel: the shared map behaviour of {@link SocketMapContract}, plus
 * what only a hash has (a capacity, keys of any size through a {@link KeyCodec}) and the checks
 * of {@link SockHash#openPinned}.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(30)
class SockHashOperationsTest extends SocketMapContract {

    @Override
    Kind kind() {
        return Kind.SOCKHASH;
    }

    @Test
    void aFullSockhashRefusesNewKeysWithE2BIGButStillReplaces() throws IOException {
        try (SockHash<Integer> hash = SockHash.create(KeyCodec.u32(), 2); Tcp t = Tcp.open()) {
            hash.put(10, t.client());
            hash.put(20, t.client());

            assertKernelError(() -> hash.put(30, t.server()), MapFullException.class, Errno.E2BIG);
            assertKernelError(() -> hash.put(30, Sockets.fd(t.server()), UpdateFlag.NOEXIST),
                    MapFullException.class, Errno.E2BIG);

            // keys already there can still be replaced in a full map
            hash.put(10, t.server(), UpdateFlag.ANY);
            hash.put(20, t.server(), UpdateFlag.EXIST);
            long server = Sockets.cookie(t.server());
            assertThat(entryMap(hash)).containsOnly(Map.entry(10, server), Map.entry(20, server));

            // a delete makes room again
            hash.delete(10);
            hash.put(30, t.client());
            assertThat(entryMap(hash)).containsOnly(Map.entry(20, server),
                    Map.entry(30, Sockets.cookie(t.client())));
        }
    }

    @Test
    void u64KeysRoundTripThroughTheKernel() throws IOException {
        try (SockHash<Long> hash = SockHash.builder(KeyCodec.u64()).maxEntries(4).name("u64").create();
                Tcp t = Tcp.open()) {
            assertThat(fdinfo(hash.fd())).containsEntry("key_size", "8");
            hash.put(Long.MIN_VALUE, t.client());
            hash.put(-1L, t.server());

            assertThat(hash.keys()).containsExactlyInAnyOrder(Long.MIN_VALUE, -1L);
            assertThat(hash.cookie(Long.MIN_VALUE)).isEqualTo(Sockets.cookie(t.client()));
            assertThat(hash.cookie(-1L)).isEqualTo(Sockets.cookie(t.server()));
            assertKernelError(() -> hash.cookie(0L), KeyNotFoundException.class, Errno.ENOENT);
        }
    }

    @ParameterizedTest(name = "{0}-byte keys")
    @ValueSource(ints = {1, 3, 16, SocketMap.MAX_KEY_SIZE})
    void byteArrayKeysOfAnySizeRoundTripThroughTheKernel(int size) throws IOException {
        try (SockHash<byte[]> hash = SockHash.create(KeyCodec.bytes(size), 2); Tcp t = Tcp.open()) {
            assertThat(fdinfo(hash.fd())).containsEntry("key_size", String.valueOf(size));
            assertThat(hash.info().keySize()).isEqualTo(size);
            byte[] a = new byte[size];
            byte[] b = new byte[size];
            a[size - 1] = 1;
            b[0] = (byte) 0xff;
            hash.put(a, t.client());
            hash.put(b, t.server());

            assertThat(hash.keys()).hasSize(2).anySatisfy(k -> assertThat(k).isEqualTo(a))
                    .anySatisfy(k -> assertThat(k).isEqualTo(b));
            assertThat(hash.cookie(a.clone())).isEqualTo(Sockets.cookie(t.client()));
            assertThat(hash.cookie(b.clone())).isEqualTo(Sockets.cookie(t.server()));
            assertThatThrownBy(() -> hash.put(new byte[size + 1], t.client()))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"127.0.0.1", "::1"})
    void connectionKeysAreTheSocketsOwnTuples(String loopback) throws IOException {
        try (SockHash<ConnectionKey> hash = SockHash.builder(ConnectionKey.codec()).maxEntries(4).create();
                Tcp t = Tcp.open(InetAddress.getByName(loopback))) {
            assertThat(fdinfo(hash.fd())).containsEntry("key_size", String.valueOf(ConnectionKey.SIZE));
            ConnectionKey client = ConnectionKey.of(t.client());
            ConnectionKey server = ConnectionKey.of(t.server());
            assertThat(server).isEqualTo(client.reversed());
            assertThat(client.family()).isEqualTo(loopback.contains(":") ? ConnectionKey.AF_INET6 : ConnectionKey.AF_INET);

            hash.put(client, t.client());
            hash.put(server, t.server());

            assertThat(hash.keys()).containsExactlyInAnyOrder(client, server);
            assertThat(entryMap(hash)).containsOnly(
                    Map.entry(client, Sockets.cookie(t.client())),
                    Map.entry(server, Sockets.cookie(t.server())));
        }
    }

    @Test
    void aSockhashIsNotOpenedAsASockmap() {
        try (TempBpfDir dir = BpfFs.tempDir(); SockHash<Integer> hash = SockHash.create(KeyCodec.u32(), 1)) {
            Path pin = dir.resolve("sockhash");
            hash.pin(pin);

            assertThatThrownBy(() -> SockMap.openPinned(pin)).isInstanceOf(IllegalArgumentException.class);
            try (SockHash<Integer> reopened = SockHash.openPinned(pin, KeyCodec.u32())) {
                assertThat(reopened.id()).isEqualTo(hash.id());
            }
        }
    }

    @Test
    void openPinnedChecksTheCodecsKeySize() throws IOException {
        try (TempBpfDir dir = BpfFs.tempDir();
                SockHash<Long> hash = SockHash.create(KeyCodec.u64(), 2);
                Tcp t = Tcp.open()) {
            hash.put(7L, t.client());
            Path pin = dir.resolve("u64");
            hash.pin(pin);

            assertThatThrownBy(() -> SockHash.openPinned(pin, KeyCodec.u32()))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> SockHash.openPinned(pin, ConnectionKey.codec()))
                    .isInstanceOf(IllegalArgumentException.class);
            try (SockHash<byte[]> asBytes = SockHash.openPinned(pin, KeyCodec.bytes(8))) {
                assertThat(asBytes.keys()).singleElement()
                        .isEqualTo(ByteBuffer.allocate(8).order(java.nio.ByteOrder.nativeOrder()).putLong(7L).array());
                assertThat(asBytes.entries()).singleElement()
                        .extracting(SocketMap.Entry::cookie).isEqualTo(Sockets.cookie(t.client()));
            }
        }
    }

    @Test
    void badNamesSizesAndCodecsAreRefusedBeforeTheKernelSeesThem() {
        assertThatThrownBy(() -> SockHash.builder(KeyCodec.u32()).name("sixteen_chars_16"))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SockHash.builder(KeyCodec.u32()).name("slash/name"))
                .isInstanceOf(IllegalArgumentException.class);
        for (int valueSize : new int[] {0, 2, 16}) {
            assertThatThrownBy(() -> SockHash.builder(KeyCodec.u32()).valueSize(valueSize).create())
                    .isInstanceOf(IllegalArgumentException.class);
        }
        for (int maxEntries : new int[] {0, -5}) {
            assertThatThrownBy(() -> SockHash.create(KeyCodec.u32(), maxEntries))
                    .isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> KeyCodec.bytes(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> KeyCodec.bytes(SocketMap.MAX_KEY_SIZE + 1))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SockHash.builder(sized(0))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SockHash.builder(sized(SocketMap.MAX_KEY_SIZE + 1)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SockHash.builder(null)).isInstanceOf(NullPointerException.class);

        // a bad codec is refused before BPF_OBJ_GET: a missing path would otherwise be ENOENT
        try (TempBpfDir dir = BpfFs.tempDir()) {
            assertThatThrownBy(() -> SockHash.openPinned(dir.resolve("missing"), sized(0)))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    /** A codec that only reports a size. */
    private static KeyCodec<Object> sized(int size) {
        return new KeyCodec<>() {
            @Override
            public int size() {
                return size;
            }

            @Override
            public void encode(Object key, ByteBuffer dst) {
                throw new UnsupportedOperationException();
            }

            @Override
            public Object decode(ByteBuffer src) {
                throw new UnsupportedOperationException();
            }
        };
    }
}
