package org.sockmap4j;

import java.nio.ByteBuffer;

/** The built-in {@link KeyCodec}s. */
final class Codecs {
    private Codecs() {}

    static final KeyCodec<Integer> U32 = new KeyCodec<>() {
        @Override
        public int size() {
            return 4;
        }

        @Override
        public void encode(Integer key, ByteBuffer dst) {
            dst.putInt(0, key);
        }

        @Override
        public Integer decode(ByteBuffer src) {
            return src.getInt(0);
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
            dst.putLong(0, key);
        }

        @Override
        public Long decode(ByteBuffer src) {
            return src.getLong(0);
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
            dst.put(0, key);
        }

        @Override
        public byte[] decode(ByteBuffer src) {
            byte[] b = new byte[size];
            src.get(0, b);
            return b;
        }
    }
}
