package org.sockmap4j.fuzz;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.Function;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestReporter;
import org.sockmap4j.ConnectionKey;
import org.sockmap4j.KeyCodec;
import org.sockmap4j.SocketMap;

/**
 * Seeded random inputs for every built-in {@link KeyCodec} ({@code u32}, {@code u64},
 * {@code bytes(n)}, {@link ConnectionKey#codec()}): random values survive encode and decode
 * unchanged; random bytes of the key size decode to a value (whose encoding decodes to the same
 * value) or throw IllegalArgumentException; keys and buffers of the wrong size fail with an
 * exception, never with a wrong value. {@value #ITERATIONS} iterations per codec; seed
 * {@code -Dsockmap4j.codec.seed} (default {@value #DEFAULT_SEED}). No privileges needed.
 */
class KeyCodecFuzzTest {

    static final int ITERATIONS = 100_000;
    static final long DEFAULT_SEED = 0xC0DEC_5EEDL;

    private static SplittableRandom random(TestReporter report, String codec) {
        long seed = Long.getLong("sockmap4j.codec.seed", DEFAULT_SEED);
        report.publishEntry(codec + " seed", Long.toString(seed));
        return new SplittableRandom(seed ^ codec.hashCode());
    }

    /**
     * A buffer as SockHash hands it to a codec: native order, position 0, exactly {@code size}
     * bytes (on the heap here; SockHash's is direct, which the codecs' absolute gets and puts
     * treat alike).
     */
    private static ByteBuffer buffer(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.nativeOrder());
    }

    private static ByteBuffer bufferWith(byte[] bytes) {
        ByteBuffer b = buffer(bytes.length);
        b.put(0, bytes);
        return b;
    }

    private static byte[] content(ByteBuffer b) {
        byte[] out = new byte[b.limit()];
        b.get(0, out);
        return out;
    }

    private static <K> byte[] encode(KeyCodec<K> codec, K key) {
        ByteBuffer b = buffer(codec.size());
        codec.encode(key, b);
        assertThat(b.position()).as("position after encode").isZero();
        return content(b);
    }

    private static byte[] randomBytes(SplittableRandom rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    /** {@code same} of what {@code bytes} decode to, or "IllegalArgumentException". */
    private static <K> Object decoded(KeyCodec<K> codec, byte[] bytes, Function<K, Object> same) {
        try {
            return same.apply(codec.decode(bufferWith(bytes)));
        } catch (IllegalArgumentException e) {
            return "IllegalArgumentException";
        }
    }

    /**
     * Random bytes of the key size: decode gives a value or throws IllegalArgumentException; a
     * value encodes to bytes that decode to the same value. Every 100th time also: a buffer 1 or
     * more bytes short, or 1 to 8 bytes long, fails with IllegalArgumentException (the codec
     * contract hands codecs exactly {@code size} bytes; the built-in ones check it, rather than
     * throw IndexOutOfBoundsException or read a prefix). Returns how many were refused.
     */
    private static <K> int decodeRandomBytes(KeyCodec<K> codec, SplittableRandom rnd, Function<K, Object> same,
            int iterations) {
        int refused = 0;
        int size = codec.size();
        for (int i = 0; i < iterations; i++) {
            byte[] bytes = randomBytes(rnd, size);
            Object value = decoded(codec, bytes, same);
            if (value.equals("IllegalArgumentException")) {
                refused++;
            } else {
                K k = codec.decode(bufferWith(bytes));
                Object again = decoded(codec, encode(codec, k), same);
                if (!again.equals(value)) {
                    throw new AssertionError(codec + ": " + Arrays.toString(bytes) + " decode to " + value
                            + ", whose encoding decodes to " + again);
                }
            }
            if (i % 100 == 0) {
                int shortBy = 1 + rnd.nextInt(size);
                ByteBuffer tooShort = bufferWith(Arrays.copyOf(bytes, size - shortBy));
                assertThatThrownBy(() -> codec.decode(tooShort)).as("%s with %d bytes", codec, size - shortBy)
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("exactly " + size + " bytes");
                byte[] longer = Arrays.copyOf(bytes, size + 1 + rnd.nextInt(8));
                assertThatThrownBy(() -> codec.decode(bufferWith(longer))).as("%s with %d bytes", codec, longer.length)
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("exactly " + size + " bytes");
            }
        }
        return refused;
    }

    @Test
    void u32(TestReporter report) {
        SplittableRandom rnd = random(report, "u32");
        KeyCodec<Integer> c = KeyCodec.u32();
        for (int i = 0; i < ITERATIONS; i++) {
            int v = rnd.nextInt();
            byte[] b = encode(c, v);
            if (!Arrays.equals(b, ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(v).array())
                    || c.decode(bufferWith(b)) != v) {
                throw new AssertionError("u32 " + v + " encodes to " + Arrays.toString(b));
            }
        }
        assertThat(decodeRandomBytes(c, rnd, v -> v, ITERATIONS)).as("u32 refuses no 4 bytes").isZero();
    }

    @Test
    void u64(TestReporter report) {
        SplittableRandom rnd = random(report, "u64");
        KeyCodec<Long> c = KeyCodec.u64();
        for (int i = 0; i < ITERATIONS; i++) {
            long v = rnd.nextLong();
            byte[] b = encode(c, v);
            if (!Arrays.equals(b, ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(v).array())
                    || c.decode(bufferWith(b)) != v) {
                throw new AssertionError("u64 " + v + " encodes to " + Arrays.toString(b));
            }
        }
        assertThat(decodeRandomBytes(c, rnd, v -> v, ITERATIONS)).as("u64 refuses no 8 bytes").isZero();
    }

    @Test
    void bytesOfEverySize(TestReporter report) {
        SplittableRandom rnd = random(report, "bytes");
        for (int i = 0; i < ITERATIONS; i++) {
            int size = 1 + rnd.nextInt(SocketMap.MAX_KEY_SIZE);
            KeyCodec<byte[]> c = KeyCodec.bytes(size);
            byte[] v = randomBytes(rnd, size);
            byte[] b = encode(c, v);
            if (!Arrays.equals(b, v) || !Arrays.equals(c.decode(bufferWith(b)), v)) {
                throw new AssertionError("bytes(" + size + ") " + Arrays.toString(v) + " encodes to "
                        + Arrays.toString(b));
            }
            int wrong = rnd.nextBoolean() ? size + 1 + rnd.nextInt(8) : rnd.nextInt(size);
            try {
                c.encode(new byte[wrong], buffer(size));
                throw new AssertionError("bytes(" + size + ") encoded a " + wrong + "-byte key");
            } catch (IllegalArgumentException expected) {
                // the contract
            }
        }
        for (int size : new int[] {1, 3, 16, 44, SocketMap.MAX_KEY_SIZE}) {
            assertThat(decodeRandomBytes(KeyCodec.bytes(size), rnd, ByteBuffer::wrap, ITERATIONS / 5)).isZero();
        }
        for (int size : new int[] {0, -1, SocketMap.MAX_KEY_SIZE + 1, Integer.MIN_VALUE}) {
            assertThatThrownBy(() -> KeyCodec.bytes(size)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    private static InetAddress address(SplittableRandom rnd, boolean v6) {
        try {
            return InetAddress.getByAddress(randomBytes(rnd, v6 ? 16 : 4));
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void connectionKeys(TestReporter report) {
        SplittableRandom rnd = random(report, "ConnectionKey");
        KeyCodec<ConnectionKey> c = ConnectionKey.codec();
        for (int i = 0; i < ITERATIONS; i++) {
            boolean v4 = rnd.nextBoolean();
            // AF_INET6 keys hold IPv6 or (v4-mapped) IPv4 addresses
            int family = v4 ? ConnectionKey.AF_INET : ConnectionKey.AF_INET6;
            InetSocketAddress local = new InetSocketAddress(address(rnd, !v4 && rnd.nextBoolean()), rnd.nextInt(65536));
            InetSocketAddress remote = new InetSocketAddress(address(rnd, !v4 && rnd.nextBoolean()), rnd.nextInt(65536));
            ConnectionKey k = new ConnectionKey(family, local, remote);
            byte[] b = encode(c, k);
            ConnectionKey back = c.decode(bufferWith(b));
            if (!back.equals(k) || back.family() != family || back.local().getPort() != local.getPort()
                    || back.remote().getPort() != remote.getPort() || !back.reversed().reversed().equals(k)
                    || !Arrays.equals(encode(c, back), b)) {
                throw new AssertionError(k + " came back as " + back);
            }
        }
        int refused = decodeRandomBytes(c, rnd, k -> k, ITERATIONS);
        report.publishEntry("ConnectionKey: random 44 bytes refused (family neither 2 nor 10)", Integer.toString(refused));
        System.out.println("KeyCodecFuzzTest: ConnectionKey refused " + refused + " of " + ITERATIONS
                + " random 44-byte keys (family neither 2 nor 10)");
        // a random family is almost never 2 or 10
        assertThat(refused).isGreaterThan(ITERATIONS * 99 / 100);
        int decoded = 0;
        for (int i = 0; i < ITERATIONS / 10; i++) {
            byte[] bytes = randomBytes(rnd, ConnectionKey.SIZE);
            ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder())
                    .putInt(0, rnd.nextBoolean() ? ConnectionKey.AF_INET : ConnectionKey.AF_INET6);
            ConnectionKey k = c.decode(bufferWith(bytes));
            if (!c.decode(bufferWith(encode(c, k))).equals(k)) {
                throw new AssertionError(k + " does not survive encode and decode");
            }
            decoded++;
        }
        assertThat(decoded).isEqualTo(ITERATIONS / 10);
    }
}
