package org.sockmap4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The built-in key codecs: sizes, native byte order, round trips and argument checks. No BPF needed. */
class KeyCodecTest {

    private static final boolean LE = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

    /** A buffer as SockHash hands it to codecs: native order, position 0, {@code size} bytes remaining. */
    private static ByteBuffer keyBuffer(int size) {
        ByteBuffer b = ByteBuffer.allocateDirect(512).order(ByteOrder.nativeOrder());
        for (int i = 0; i < 512; i++) {
            b.put(i, (byte) 0x5a); // garbage a codec must overwrite
        }
        return b.clear().limit(size);
    }

    private static byte[] bytes(ByteBuffer b, int n) {
        byte[] out = new byte[n];
        b.get(0, out);
        return out;
    }

    private static byte[] reverseIfLittle(byte... bigEndian) {
        byte[] b = bigEndian.clone();
        if (LE) {
            for (int i = 0, j = b.length - 1; i < j; i++, j--) {
                byte t = b[i];
                b[i] = b[j];
                b[j] = t;
            }
        }
        return b;
    }

    @Test
    void u32IsFourBytesInNativeOrder() {
        KeyCodec<Integer> c = KeyCodec.u32();
        assertThat(c.size()).isEqualTo(4);
        assertThat(KeyCodec.u32()).isSameAs(c);
        ByteBuffer b = keyBuffer(4);
        c.encode(0x12345678, b);
        assertThat(bytes(b, 4)).containsExactly(reverseIfLittle((byte) 0x12, (byte) 0x34, (byte) 0x56, (byte) 0x78));
        assertThat(b.position()).isZero();
        assertThat(c.decode(b)).isEqualTo(0x12345678);
        assertThat(c.toString()).isEqualTo("u32");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 7, 255, 256, 0x7fffffff, -1, Integer.MIN_VALUE, 0xdeadbeef})
    void u32RoundTrips(int value) {
        KeyCodec<Integer> c = KeyCodec.u32();
        ByteBuffer b = keyBuffer(4);
        c.encode(value, b);
        ByteBuffer expected = ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(0, value);
        assertThat(bytes(b, 4)).containsExactly(expected.array());
        assertThat(c.decode(b)).isEqualTo(value);
        assertThat(Integer.toUnsignedLong(c.decode(b))).isEqualTo(Integer.toUnsignedLong(value));
    }

    @Test
    void u64IsEightBytesInNativeOrder() {
        KeyCodec<Long> c = KeyCodec.u64();
        assertThat(c.size()).isEqualTo(8);
        ByteBuffer b = keyBuffer(8);
        c.encode(0x0102030405060708L, b);
        assertThat(bytes(b, 8)).containsExactly(reverseIfLittle((byte) 1, (byte) 2, (byte) 3, (byte) 4, (byte) 5,
                (byte) 6, (byte) 7, (byte) 8));
        assertThat(c.decode(b)).isEqualTo(0x0102030405060708L);
        assertThat(c.toString()).isEqualTo("u64");
    }

    @ParameterizedTest
    @ValueSource(longs = {0L, 1L, -1L, Long.MAX_VALUE, Long.MIN_VALUE, 0xcafebabe_00000001L, 1L << 32})
    void u64RoundTrips(long value) {
        KeyCodec<Long> c = KeyCodec.u64();
        ByteBuffer b = keyBuffer(8);
        c.encode(value, b);
        ByteBuffer expected = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(0, value);
        assertThat(bytes(b, 8)).containsExactly(expected.array());
        assertThat(c.decode(b)).isEqualTo(value);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 16, 44, 100, 511, 512})
    void bytesRoundTripsUnchanged(int size) {
        KeyCodec<byte[]> c = KeyCodec.bytes(size);
        assertThat(c.size()).isEqualTo(size);
        byte[] key = new byte[size];
        for (int i = 0; i < size; i++) {
            key[i] = (byte) (i * 31 + 7);
        }
        ByteBuffer b = keyBuffer(size);
        c.encode(key, b);
        assertThat(bytes(b, size)).containsExactly(key); // raw bytes: no byte-order change
        byte[] back = c.decode(b);
        assertThat(back).containsExactly(key).isNotSameAs(key);
        // decoding gives a fresh array each time
        assertThat(c.decode(b)).isNotSameAs(back).containsExactly(key);
        if (size < 512) { // the bytes past the key are not touched
            assertThat(b.limit(512).get(size)).isEqualTo((byte) 0x5a);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 15, 17, 32})
    void bytesRejectsKeysOfTheWrongLength(int length) {
        KeyCodec<byte[]> c = KeyCodec.bytes(16);
        ByteBuffer b = keyBuffer(16);
        assertThatThrownBy(() -> c.encode(new byte[length], b))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("16")
                .hasMessageContaining(Integer.toString(length));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 513, -1, 1024, Integer.MIN_VALUE, Integer.MAX_VALUE})
    void bytesRejectsSizesOutsideOneTo512(int size) {
        assertThatThrownBy(() -> KeyCodec.bytes(size))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("512");
    }

    @Test
    void maxKeySizeIs512() {
        assertThat(SocketMap.MAX_KEY_SIZE).isEqualTo(512);
    }

    @Test
    void bytesCodecsOfOneSizeAreEqual() {
        assertThat(KeyCodec.bytes(16)).isEqualTo(KeyCodec.bytes(16)).isNotEqualTo(KeyCodec.bytes(17));
        assertThat(KeyCodec.bytes(16).hashCode()).isEqualTo(KeyCodec.bytes(16).hashCode());
    }

    static java.util.stream.Stream<KeyCodec<?>> builtIn() {
        return java.util.stream.Stream.of(KeyCodec.u32(), KeyCodec.u64(), KeyCodec.bytes(16), ConnectionKey.codec());
    }

    /** The buffer contract is checked: a wrong buffer is refused by name, not half read or written. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.MethodSource("builtIn")
    void aBufferOfTheWrongSizeOrPositionIsRefused(KeyCodec<?> c) {
        int size = c.size();
        for (ByteBuffer wrong : java.util.List.of(keyBuffer(size - 1), keyBuffer(size + 1),
                keyBuffer(size + 1).position(1))) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> c.decode(wrong))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("KeyCodec " + c).hasMessageContaining("exactly " + size + " bytes");
        }
        ByteBuffer shortBuffer = keyBuffer(size - 1);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> encodeSample(c, shortBuffer))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("exactly " + size + " bytes");
        assertThat(shortBuffer.get(0)).as("nothing written").isEqualTo((byte) 0x5a);
    }

    @SuppressWarnings("unchecked")
    private static void encodeSample(KeyCodec<?> c, ByteBuffer dst) {
        Object sample = c.decode(keyBufferWith(c));
        ((KeyCodec<Object>) c).encode(sample, dst);
    }

    /** A valid encoded key for {@code c}: an IPv4 connection key for the 4-tuple codec, zeros otherwise. */
    private static ByteBuffer keyBufferWith(KeyCodec<?> c) {
        ByteBuffer b = keyBuffer(c.size());
        for (int i = 0; i < c.size(); i++) {
            b.put(i, (byte) 0);
        }
        if (c == ConnectionKey.codec()) {
            b.putInt(0, 2); // AF_INET
        }
        return b;
    }
}
