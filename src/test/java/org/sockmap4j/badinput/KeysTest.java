package org.sockmap4j.badinput;

import static org.assertj.core.api.Assertions.assertThat;
import static org.sockmap4j.badinput.Refusal.assertRefused;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.BpfObject;
import org.sockmap4j.ConnectionKey;
import org.sockmap4j.KeyCodec;
import org.sockmap4j.SockHash;
import org.sockmap4j.testing.BpfFs;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TempBpfDir;

/**
 * Keys that do not fit the map: a byte key of the wrong length, a codec that writes past its
 * size, and maps whose key size differs from the codec's (pinned, or in a loaded object). Each is
 * an IllegalArgumentException naming the call, the map and the codec; the kernel saw no key (the
 * map stays empty) and no fd was handed out.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class KeysTest {

    @Test
    void aByteKeyOfTheWrongLengthIsRefusedOnInsert() throws IOException {
        try (SockHash<byte[]> hash = SockHash.builder(KeyCodec.bytes(16)).name("keys16").create();
                ServerSocketChannel listener = listener()) {
            assertRefused(() -> hash.put(new byte[15], listener), IllegalArgumentException.class, "SocketMap.put",
                    "sockhash 'keys16': key codec bytes(16) cannot encode key of 15 bytes",
                    "a key must encode to exactly 16 bytes");
            assertThat(hash.keys()).isEmpty();
        }
    }

    @Test
    void aByteKeyOfTheWrongLengthIsRefusedOnLookup() {
        try (SockHash<byte[]> hash = SockHash.builder(KeyCodec.bytes(16)).name("keys16").create()) {
            assertRefused(() -> hash.cookie(new byte[17]), IllegalArgumentException.class, "SocketMap.cookie",
                    "sockhash 'keys16': key codec bytes(16) cannot encode key of 17 bytes",
                    "a key must encode to exactly 16 bytes");
        }
    }

    @Test
    void aCodecThatWritesPastItsSizeIsRefused() throws IOException {
        KeyCodec<Long> liar = new KeyCodec<>() { // says 4 bytes, writes 8
            @Override
            public int size() {
                return 4;
            }

            @Override
            public void encode(Long key, ByteBuffer dst) {
                dst.putLong(0, key);
            }

            @Override
            public Long decode(ByteBuffer src) {
                return (long) src.getInt(0);
            }

            @Override
            public String toString() {
                return "liar";
            }
        };
        try (SockHash<Long> hash = SockHash.builder(liar).name("liar").create();
                ServerSocketChannel listener = listener()) {
            assertRefused(() -> hash.put(1L, listener), IllegalArgumentException.class, "SocketMap.put",
                    "sockhash 'liar': key codec liar cannot encode key 1", "a key must encode to exactly 4 bytes");
            assertThat(hash.keys()).isEmpty();
        }
    }

    @Test
    void aPinnedSockhashOpenedWithACodecOfAnotherSize() {
        try (TempBpfDir dir = BpfFs.tempDir(); SockHash<Long> hash = SockHash.create(KeyCodec.u64(), 1)) {
            Path pin = dir.resolve("u64_keys");
            hash.pin(pin);
            assertRefused(() -> SockHash.openPinned(pin, ConnectionKey.codec()).close(),
                    IllegalArgumentException.class, "SockHash.openPinned", "the sockhash pinned at " + pin
                            + " has 8-byte keys, the codec connection 4-tuple", "open it with a codec of 8 bytes");
        }
    }

    @Test
    void aSockhashOfALoadedObjectTakenWithACodecOfAnotherSize() {
        try (BpfObject obj = BpfObject.openBundled("bypass").load()) {
            assertRefused(() -> obj.sockHash("sock_hash", KeyCodec.u64()).close(), IllegalArgumentException.class,
                    "BpfObject.sockHash", "map 'sock_hash' of BPF object 'bypass' has " + ConnectionKey.SIZE
                            + "-byte keys, the codec 8", "use a codec of " + ConnectionKey.SIZE + " bytes");
        }
    }

    private static ServerSocketChannel listener() throws IOException {
        ServerSocketChannel l = ServerSocketChannel.open();
        l.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        return l;
    }
}
