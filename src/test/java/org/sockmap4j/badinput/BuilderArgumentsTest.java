package org.sockmap4j.badinput;

import static org.sockmap4j.badinput.Refusal.assertRefused;

import java.nio.ByteBuffer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sockmap4j.BpfObject;
import org.sockmap4j.KeyCodec;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockMap;

/**
 * Map and object arguments the library refuses before any system call: names the kernel would
 * truncate or refuse, sizes below one or that the kernel rejects, key codecs of impossible sizes,
 * unknown bundled objects. Needs no privileges: nothing here reaches the kernel (a map created
 * by mistake would need CAP_BPF, and would fail differently).
 */
class BuilderArgumentsTest {

    @Test
    void aMapNameOfSixteenCharactersIsRefused() {
        assertRefused(() -> SockMap.builder().name("sixteen_chars_16"), IllegalArgumentException.class,
                "SockMap.Builder.name", "'sixteen_chars_16'", "at most 15: shorten it");
    }

    @Test
    void aMapNameWithADashIsRefused() {
        assertRefused(() -> SockHash.builder(KeyCodec.u32()).name("dash-name"), IllegalArgumentException.class,
                "SockHash.Builder.name", "'dash-name'", "use only ASCII letters, digits, '_' and '.'");
    }

    @ParameterizedTest(name = "max entries {0}")
    @ValueSource(ints = {0, -1, Integer.MIN_VALUE})
    void maxEntriesBelowOneIsRefused(int maxEntries) {
        assertRefused(() -> SockMap.builder().name("too_few").maxEntries(maxEntries).create().close(),
                IllegalArgumentException.class, "SockMap.Builder.create", "sockmap 'too_few'",
                "got " + maxEntries + "; set maxEntries(n)");
    }

    @Test
    void aValueSizeOtherThanFourOrEightIsRefused() {
        assertRefused(() -> SockHash.builder(KeyCodec.u64()).name("v16").valueSize(16).create().close(),
                IllegalArgumentException.class, "SockHash.Builder.create", "sockhash 'v16'",
                "value size must be 4 or 8");
    }

    @ParameterizedTest(name = "key size {0}")
    @ValueSource(ints = {0, 513})
    void aKeyCodecOfImpossibleSizeIsRefused(int size) {
        assertRefused(() -> SockHash.builder(sized(size)), IllegalArgumentException.class, "SockHash.builder",
                "key codec sized(" + size + ")", "a sockhash key has 1..512 bytes");
    }

    @Test
    void anUnknownBundledObjectIsRefusedWithTheList() {
        assertRefused(() -> BpfObject.openBundled("bypass.bpf.o").close(), IllegalArgumentException.class,
                "BpfObject.openBundled", "'bypass.bpf.o'", "use one of [bypass, ");
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

            @Override
            public String toString() {
                return "sized(" + size + ")";
            }
        };
    }
}
