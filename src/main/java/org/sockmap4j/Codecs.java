package org.sockmap4j;

import java.nio.ByteBuffer;

/** The built-in {@link KeyCodec}s. */
final class Codecs {
    private Codecs() {}

    /**
     * Checks the {@link KeyCodec} buffer contract (positioned at 0, exactly {@code size} bytes):
     * a wrong buffer is an {@link IllegalArgumentException} naming the codec, not an
     * IndexOutOfBoundsException from the middle of a decode or a key read from its first bytes.
     */
    static ByteBuffer sized(ByteBuffer b, KeyCodec<?> codec) {
        int size = codec.size();
        if (b.position() != 0 || b.limit() != size) {
            throw new IllegalArgumentException("KeyCodec " + codec + ": the buffer must be positioned at 0 with exactly "
                    + size + " bytes, got position " + b.position() + " and limit " + b.limit());
        }
        return b;
    }

    static final KeyCodec<Integer> U32 = new KeyCodec<>() {
        @Override
        public int size() {
            return 4;
        }

        @Override
        public void encode(Integer key, ByteBuffer dst) {
            sized(dst, this).putInt(0, key);
        }

        @Override
        public Integer decode(ByteBuffer src) {
            return sized(src, this).getInt(0);
        }

        @Override
        public String toString() {
            return "u32";
        }
    };

    static final KeyCodec<Long> U64 = new KeyCodec<>() {
        @Override
        public int size() {
            return 8;
        }

        @Override
        public void encode(Long key, ByteBuffer dst) {
            sized(dst, this).putLong(0, key);
        }

        @Override
        public Long decode(ByteBuffer src) {
            return sized(src, this).getLong(0);
        }

        @Override
        public String toString() {
            return "u64";
        }
    };

    record Bytes(int size) implements KeyCodec<byte[]> {
        Bytes {
            if (size < 1 || size > SocketMap.MAX_KEY_SIZE) {
                throw new IllegalArgumentException("KeyCodec.bytes: key size must be 1.." + SocketMap.MAX_KEY_SIZE
                        + ", got " + size);
            }
        }

        @Override
        public void encode(byte[] key, ByteBuffer dst) {
            if (key.length != size) {
                throw new IllegalArgumentException("key must be " + size + " bytes, got " + key.length);
            }
            sized(dst, this).put(0, key);
        }

        @Override
        public String toString() {
            return "bytes(" + size + ")";
        }

        @Override
        public byte[] decode(ByteBuffer src) {
            sized(src, this);
            byte[] b = new byte[size];
            src.get(0, b);
            return b;
        }
    }
}
