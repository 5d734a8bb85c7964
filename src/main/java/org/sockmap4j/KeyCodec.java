package org.sockmap4j;

import java.nio.ByteBuffer;

/**
 * Turns a {@link SockHash} key into the bytes the kernel and the BPF programs see, and back.
 * Buffers are in native byte order, positioned at 0, with exactly {@link #size()} bytes
 * remaining. Codecs must be stateless and thread-safe; they should not allocate in
 * {@link #encode} so that map operations stay allocation-free.
 *
 * <p>Built in: {@link #u32()}, {@link #u64()}, {@link #bytes(int)} and
 * {@link ConnectionKey#codec()} (a connection 4-tuple as a BPF program reads it from
 * {@code bpf_sock_ops} or {@code sk_msg_md}).
 *
 * @param <K> the key type
 */
public interface KeyCodec<K> {
    /** The key size in bytes (the map's {@code key_size}); between 1 and 512. */
    int size();

    /**
     * Writes {@code key} into {@code dst}.
     *
     * @throws IllegalArgumentException if the key cannot be encoded, or (built-in codecs) if
     *     {@code dst} is not positioned at 0 with exactly {@link #size()} bytes
     */
    void encode(K key, ByteBuffer dst);

    /**
     * Reads a key from {@code src}.
     *
     * @throws IllegalArgumentException if the bytes are no valid key, or (built-in codecs) if
     *     {@code src} is not positioned at 0 with exactly {@link #size()} bytes
     */
    K decode(ByteBuffer src);

    /** A 4-byte unsigned key in native order (a {@code __u32} in C), as an int. */
    static KeyCodec<Integer> u32() {
        return Codecs.U32;
    }

    /** An 8-byte key in native order (a {@code __u64} in C), as a long. */
    static KeyCodec<Long> u64() {
        return Codecs.U64;
    }

    /** A fixed-size byte-array key of {@code size} bytes; encoding checks the length. */
    static KeyCodec<byte[]> bytes(int size) {
        return new Codecs.Bytes(size);
    }
}
