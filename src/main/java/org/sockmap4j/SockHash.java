package org.sockmap4j;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

import org.sockmap4j.internal.sys.ApiCall;
import org.sockmap4j.internal.sys.Fd;
import org.sockmap4j.internal.sys.Scratch;

/**
 * A {@code BPF_MAP_TYPE_SOCKHASH} (Linux 4.18+): socket references under keys of any fixed size,
 * turned into bytes by a {@link KeyCodec}. {@link ConnectionKey#codec()} keys sockets by their
 * connection 4-tuple, as BPF programs see it.
 *
 * <pre>{@code
 * try (SockHash<ConnectionKey> hash = SockHash.builder(ConnectionKey.codec())
 *         .maxEntries(1024).name("conns").create()) {
 *     hash.put(ConnectionKey.of(channel), channel);
 * }
 * }</pre>
 *
 * @param <K> the key type
 */
public final class SockHash<K> extends SocketMap<K> {
    private static final int TYPE = MapType.SOCKHASH.value();

    private final KeyCodec<K> codec;

    private SockHash(Fd fd, KeyCodec<K> codec, String name, int valueSize, int maxEntries) {
        super(fd, "sockhash", name, codec.size(), valueSize, maxEntries);
        this.codec = codec;
    }

    /** A new unnamed SOCKHASH for keys of {@code codec}, with 8-byte values. */
    public static <K> SockHash<K> create(KeyCodec<K> codec, int maxEntries) {
        return builder(codec).maxEntries(maxEntries).create();
    }

    /** A builder for a new SOCKHASH with keys of {@code codec}. */
    public static <K> Builder<K> builder(KeyCodec<K> codec) {
        return new Builder<>(codec);
    }

    /**
     * Opens the SOCKHASH pinned at {@code path} on bpffs ({@code BPF_OBJ_GET}).
     *
     * @throws IllegalArgumentException if the object is not a SOCKHASH or its key size differs
     *     from the codec's
     */
    public static <K> SockHash<K> openPinned(Path path, KeyCodec<K> codec) {
        checkCodec(codec);
        int[] sizes = new int[3];
        String[] name = new String[1];
        Fd fd = openPinned(path, MapType.SOCKHASH, sizes, name);
        if (sizes[0] != codec.size()) {
            fd.close();
            throw new IllegalArgumentException("SockHash.openPinned: the sockhash pinned at " + path + " has "
                    + sizes[0] + "-byte keys, the codec " + codec + " has " + codec.size()
                    + "; open it with a codec of " + sizes[0] + " bytes (KeyCodec.bytes(" + sizes[0] + ") reads any)");
        }
        return new SockHash<>(fd, codec, name[0], sizes[1], sizes[2]);
    }

    /** Wraps an fd of a map loaded from an object (type and key size already checked). */
    static <K> SockHash<K> wrap(Fd fd, KeyCodec<K> codec, String name, int valueSize, int maxEntries) {
        return new SockHash<>(fd, codec, name, valueSize, maxEntries);
    }

    /** Builds a {@link SockHash}. */
    public static final class Builder<K> {
        private final KeyCodec<K> codec;
        private int maxEntries = 1;
        private int valueSize = 8;
        private String name = "";

        private Builder(KeyCodec<K> codec) {
            this.codec = checkCodec(codec);
        }

        /** Capacity (default 1). */
        public Builder<K> maxEntries(int maxEntries) {
            this.maxEntries = maxEntries;
            return this;
        }

        /** 8 (default: lookups return socket cookies) or 4. */
        public Builder<K> valueSize(int valueSize) {
            this.valueSize = valueSize;
            return this;
        }

        /** The map's name as {@code bpftool} shows it: up to 15 ASCII letters, digits, '_' or '.'. */
        public Builder<K> name(String name) {
            this.name = checkName("SockHash.Builder.name", name);
            return this;
        }

        /** Creates the map ({@code BPF_MAP_CREATE}). */
        public SockHash<K> create() {
            checkSizes("SockHash.Builder.create", describe("sockhash", name), valueSize, maxEntries);
            SockHash<K> h = new SockHash<>(SocketMap.create("sockhash", TYPE, codec.size(), valueSize, maxEntries,
                    name), codec, name, valueSize, maxEntries);
            return h.createdEmpty(h);
        }
    }

    private static <K> KeyCodec<K> checkCodec(KeyCodec<K> codec) {
        Objects.requireNonNull(codec, "codec");
        int size = codec.size();
        if (size < 1 || size > MAX_KEY_SIZE) {
            throw new IllegalArgumentException(ApiCall.name() + ": key codec " + codec + " has size " + size
                    + "; a sockhash key has 1.." + MAX_KEY_SIZE + " bytes");
        }
        return codec;
    }

    /** The key codec. */
    public KeyCodec<K> codec() {
        return codec;
    }

    /**
     * Encodes with the codec; its failures (a key it refuses, a write past the key size) become
     * an {@link IllegalArgumentException} naming the call, this map and the codec.
     */
    @Override
    void encodeKey(Scratch s, K key) {
        try {
            codec.encode(key, keyBuffer(s.keyBuffer, keySize));
        } catch (IllegalArgumentException | IndexOutOfBoundsException | java.nio.BufferOverflowException
                | ClassCastException e) {
            throw new IllegalArgumentException(ApiCall.name() + " on " + describe() + ": key codec " + codec
                    + " cannot encode key " + (key instanceof byte[] b ? "of " + b.length + " bytes" : key)
                    + " (" + e.getMessage() + "); a key must encode to exactly "
                    + keySize + " bytes", e);
        }
    }

    @Override
    K decodeNextKey(Scratch s) {
        return codec.decode(keyBuffer(s.nextKeyBuffer, keySize));
    }

    @Override
    boolean emptyOnDelete(int errno) {
        return errno == Errno.ENOENT.code();
    }

    @Override
    boolean isEmpty() {
        Scratch s = Scratch.get();
        int mapFd = fd.acquire();
        try {
            return org.sockmap4j.internal.sys.Bpf.mapGetNextKey(s, mapFd, true) == -Errno.ENOENT.code();
        } finally {
            fd.release();
        }
    }

    /** Every key in the map ({@code BPF_MAP_GET_NEXT_KEY}). */
    @Override
    public List<K> keys() {
        return walkKeys();
    }
}
