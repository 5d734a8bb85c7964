package org.sockmap4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.sockmap4j.MapTestSupport.assertKernelError;
import static org.sockmap4j.MapTestSupport.cookies;
import static org.sockmap4j.MapTestSupport.entryMap;
import static org.sockmap4j.MapTestSupport.fdinfo;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sockmap4j.MapTestSupport.Kind;
import org.sockmap4j.MapTestSupport.Tcp;
import org.sockmap4j.testing.BpfFs;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TempBpfDir;

/**
 * What BPF_MAP_{CREATE,UPDATE,LOOKUP,DELETE}_ELEM, GET_NEXT_KEY, OBJ_PIN and OBJ_GET do to a
 * socket map of one {@link Kind}, through the {@code Integer}-keyed {@link SocketMap} API that
 * SOCKMAP and a u32 SOCKHASH share. Every expectation is what kernel 6.18 answers; where the two
 * kinds differ, {@link Kind} says how. Subclasses add the kind-specific tests.
 */
@Privileged
abstract class SocketMapContract {

    abstract Kind kind();

    // ---- create and info ----

    @ParameterizedTest(name = "value size {0}")
    @ValueSource(ints = {4, 8})
    void infoReportsWhatTheKernelHolds(int valueSize) {
        try (SocketMap<Integer> map = kind().create("ops_v" + valueSize, 3, valueSize)) {
            MapInfo info = map.info();
            Map<String, String> kernel = fdinfo(map.fd());

            assertThat(info.type()).isEqualTo(kind().type);
            assertThat(info.typeValue()).isEqualTo(kind().type.value());
            assertThat(kernel).containsEntry("map_type", String.valueOf(kind().type.value()))
                    .containsEntry("key_size", "4")
                    .containsEntry("value_size", String.valueOf(valueSize))
                    .containsEntry("max_entries", "3")
                    .containsEntry("map_flags", "0x0")
                    .containsEntry("map_id", String.valueOf(info.id()));
            assertThat(info.keySize()).isEqualTo(4);
            assertThat(info.valueSize()).isEqualTo(valueSize);
            assertThat(info.maxEntries()).isEqualTo(3);
            assertThat(info.flags()).isZero();
            assertThat(info.name()).isEqualTo("ops_v" + valueSize);
            assertThat(info.id()).isPositive();

            assertThat(map.id()).isEqualTo(info.id());
            assertThat(map.name()).isEqualTo(info.name());
            assertThat(map.keySize()).isEqualTo(4);
            assertThat(map.valueSize()).isEqualTo(valueSize);
            assertThat(map.maxEntries()).isEqualTo(3);
            assertThat(map.isClosed()).isFalse();
        }
    }

    @Test
    void namesUseTheKernelsFullAlphabetAndLength() {
        try (SocketMap<Integer> a = kind().create("", 1, 8);
                SocketMap<Integer> b = kind().create("a.b_C9", 1, 8);
                SocketMap<Integer> c = kind().create("fifteen_chars_1", 1, 8)) {
            assertThat(a.info().name()).isEmpty();
            assertThat(b.info().name()).isEqualTo("a.b_C9");
            assertThat(c.info().name()).isEqualTo("fifteen_chars_1");
            assertThat(a.id()).isNotEqualTo(b.id()).isNotEqualTo(c.id());
        }
    }

    // ---- put with ANY / NOEXIST / EXIST ----

    @Test
    void putAnyInsertsAndReplaces() throws IOException {
        try (SocketMap<Integer> map = kind().create(2); Tcp t = Tcp.open()) {
            map.put(0, t.client());
            assertThat(map.cookie(0)).isEqualTo(Sockets.cookie(t.client()));
            assertThat(map.containsKey(0)).isTrue();

            map.put(0, Sockets.fd(t.server()), UpdateFlag.ANY);
            assertThat(map.cookie(0)).isEqualTo(Sockets.cookie(t.server()));
            assertThat(entryMap(map)).containsExactly(Map.entry(0, Sockets.cookie(t.server())));
        }
    }

    @Test
    void putNoExistOnATakenKeyIsEEXIST() throws IOException {
        try (SocketMap<Integer> map = kind().create(2); Tcp t = Tcp.open()) {
            map.put(1, t.client(), UpdateFlag.NOEXIST); // an empty key takes it

            assertKernelError(() -> map.put(1, t.server(), UpdateFlag.NOEXIST), KeyExistsException.class,
                    Errno.EEXIST);
            assertThat(map.cookie(1)).isEqualTo(Sockets.cookie(t.client()));
        }
    }

    @Test
    void putExistOnAnEmptyKeyIsENOENT() throws IOException {
        try (SocketMap<Integer> map = kind().create(2); Tcp t = Tcp.open()) {
            // for SOCKMAP too: a slot with no socket counts as absent
            assertKernelError(() -> map.put(0, t.client(), UpdateFlag.EXIST), KeyNotFoundException.class,
                    Errno.ENOENT);
            assertThat(map.containsKey(0)).isFalse();
            assertThat(map.keys()).isEmpty();

            map.put(0, t.client());
            map.put(0, t.server(), UpdateFlag.EXIST);
            assertThat(map.cookie(0)).isEqualTo(Sockets.cookie(t.server()));
        }
    }

    // ---- delete ----

    @Test
    void deleteRemovesTheEntry() throws IOException {
        try (SocketMap<Integer> map = kind().create(2); Tcp t = Tcp.open()) {
            map.put(0, t.client());
            map.put(1, t.server());

            map.delete(0);

            assertKernelError(() -> map.cookie(0), KeyNotFoundException.class, Errno.ENOENT);
            assertThat(map.containsKey(0)).isFalse();
            assertThat(entryMap(map)).containsExactly(Map.entry(1, Sockets.cookie(t.server())));
            assertThat(t.client().isOpen()).isTrue(); // deleting an entry does not touch the socket
        }
    }

    @Test
    void deleteIfPresentTellsWhetherAnEntryWasRemoved() throws IOException {
        try (SocketMap<Integer> map = kind().create(2); Tcp t = Tcp.open()) {
            map.put(1, t.client());

            assertThat(map.deleteIfPresent(1)).isTrue();
            assertThat(map.deleteIfPresent(1)).isFalse();
            assertThat(map.deleteIfPresent(0)).isFalse();
            assertKernelError(() -> map.cookie(1), KeyNotFoundException.class, Errno.ENOENT);
        }
    }

    @Test
    void deleteOfAnEmptyKeyIsRefused() throws IOException {
        try (SocketMap<Integer> map = kind().create(2); Tcp t = Tcp.open()) {
            // SOCKMAP answers EINVAL for an empty slot, SOCKHASH ENOENT for a missing key
            assertKernelError(() -> map.delete(0), kind().deleteEmptyType, kind().deleteEmpty);

            map.put(0, t.client());
            map.delete(0);
            assertKernelError(() -> map.delete(0), kind().deleteEmptyType, kind().deleteEmpty);
        }
    }

    // ---- lookup ----

    @Test
    void cookieOfAnEmptyKeyIsENOENT() {
        try (SocketMap<Integer> map = kind().create(2)) {
            assertKernelError(() -> map.cookie(0), KeyNotFoundException.class, Errno.ENOENT);
            assertThat(map.containsKey(1)).isFalse();
        }
    }

    @Test
    void lookupsInAMapWithFourByteValuesAreENOSPC() throws IOException {
        try (SocketMap<Integer> map = kind().create("v4", 2, 4); Tcp t = Tcp.open()) {
            map.put(0, t.client()); // inserting works with a 4-byte fd value

            assertKernelError(() -> map.cookie(0), BpfException.class, Errno.ENOSPC);
            assertKernelError(() -> map.containsKey(0), BpfException.class, Errno.ENOSPC);
            // the kernel checks the value size before it looks at the key
            assertKernelError(() -> map.cookie(1), BpfException.class, Errno.ENOSPC);
            assertKernelError(map::entries, BpfException.class, Errno.ENOSPC);

            // the entry was there: the first delete succeeds, the second finds the key empty
            map.delete(0);
            assertKernelError(() -> map.delete(0), kind().deleteEmptyType, kind().deleteEmpty);
        }
    }

    // ---- iteration ----

    @Test
    void anEmptyMapHasNoKeysAndNoEntries() {
        try (SocketMap<Integer> map = kind().create(4)) {
            assertThat(map.keys()).isEmpty();
            assertThat(map.entries()).isEmpty();
        }
    }

    @Test
    void keysAndEntriesListTheKeysHoldingASocket() throws IOException {
        try (SocketMap<Integer> map = kind().create(4); Tcp t = Tcp.open()) {
            map.put(1, t.client());
            map.put(3, t.server());

            assertThat(map.keys()).containsExactlyInAnyOrder(1, 3);
            assertThat(entryMap(map)).containsOnly(
                    Map.entry(1, Sockets.cookie(t.client())),
                    Map.entry(3, Sockets.cookie(t.server())));
        }
    }

    // ---- one socket, many entries ----

    @Test
    void oneSocketInSeveralEntriesAndSeveralMaps() throws IOException {
        try (SocketMap<Integer> first = kind().create(3);
                SocketMap<Integer> second = kind().create(3);
                SocketMap<Integer> otherKind = kind().other().create(3);
                Tcp t = Tcp.open()) {
            long cookie = Sockets.cookie(t.client());
            for (int key = 0; key < 3; key++) {
                first.put(key, t.client());
            }
            second.put(2, t.client());
            otherKind.put(1, t.client());

            assertThat(entryMap(first)).containsOnly(Map.entry(0, cookie), Map.entry(1, cookie), Map.entry(2, cookie));
            assertThat(entryMap(second)).containsOnly(Map.entry(2, cookie));
            assertThat(entryMap(otherKind)).containsOnly(Map.entry(1, cookie));

            for (int key = 0; key < 3; key++) {
                first.delete(key);
            }
            second.delete(2);
            otherKind.delete(1);

            assertThat(first.entries()).isEmpty();
            assertThat(second.entries()).isEmpty();
            assertThat(otherKind.entries()).isEmpty();
            assertKernelError(() -> second.delete(2), kind().deleteEmptyType, kind().deleteEmpty);
        }
    }

    @Test
    void closingTheSocketRemovesEveryEntryOfIt() throws IOException {
        try (SocketMap<Integer> first = kind().create(3);
                SocketMap<Integer> second = kind().create(3);
                Tcp t = Tcp.open()) {
            first.put(0, t.client());
            first.put(1, t.client());
            first.put(2, t.server());
            second.put(0, t.client());

            t.client().close();

            assertKernelError(() -> first.cookie(0), KeyNotFoundException.class, Errno.ENOENT);
            assertKernelError(() -> first.cookie(1), KeyNotFoundException.class, Errno.ENOENT);
            assertKernelError(() -> first.delete(0), kind().deleteEmptyType, kind().deleteEmpty);
            assertKernelError(() -> second.delete(0), kind().deleteEmptyType, kind().deleteEmpty);
            assertThat(entryMap(first)).containsOnly(Map.entry(2, Sockets.cookie(t.server())));
            assertThat(second.keys()).isEmpty();
        }
    }

    @SuppressWarnings("try") // the client is there only to be accepted
    @Test
    void anAcceptedChildDoesNotInheritTheListenersEntry() throws IOException {
        try (SocketMap<Integer> map = kind().create(2);
                ServerSocketChannel listener = ServerSocketChannel.open()) {
            listener.bind(new InetSocketAddress(MapTestSupport.LOOPBACK4, 0));
            map.put(0, listener);
            long listenerCookie = Sockets.cookie(listener);

            try (SocketChannel client = SocketChannel.open(listener.getLocalAddress());
                    SocketChannel child = listener.accept()) {
                long childCookie = Sockets.cookie(child);
                assertThat(childCookie).isNotEqualTo(listenerCookie);
                assertThat(cookies(map)).containsExactly(listenerCookie).doesNotContain(childCookie);

                // the child is an ordinary established socket that can be inserted by itself
                map.put(1, child);
                assertThat(map.cookie(1)).isEqualTo(childCookie);
            }
            assertThat(entryMap(map)).containsOnly(Map.entry(0, listenerCookie));
        }
    }

    // ---- closed maps ----

    @Test
    void aClosedMapThrowsIllegalStateExceptionForEveryKernelCall() throws IOException {
        try (Tcp t = Tcp.open(); TempBpfDir dir = BpfFs.tempDir()) {
            SocketMap<Integer> map = kind().create("closed", 2, 8);
            map.put(0, t.client());
            int socketFd = Sockets.fd(t.server());
            Path pin = dir.resolve("closed");
            map.close();

            assertThat(map.isClosed()).isTrue();
            List<ThrowingCallable> calls = List.of(
                    () -> map.put(1, socketFd),
                    () -> map.put(1, socketFd, UpdateFlag.NOEXIST),
                    () -> map.put(1, t.server()),
                    () -> map.put(1, t.server(), UpdateFlag.ANY),
                    () -> map.delete(0),
                    () -> map.deleteIfPresent(0),
                    () -> map.cookie(0),
                    () -> map.containsKey(0),
                    map::keys,
                    map::entries,
                    () -> map.pin(pin),
                    map::info,
                    map::id,
                    map::fd);
            for (ThrowingCallable call : calls) {
                assertThatThrownBy(call).isInstanceOf(IllegalStateException.class);
            }
            assertThat(pin).doesNotExist();
            assertThat(map.toString()).isNotEmpty();

            // a second close must not close the number again: a new map very likely got it
            try (SocketMap<Integer> next = kind().create(1)) {
                map.close();
                assertThat(map.isClosed()).isTrue();
                next.put(0, t.server());
                assertThat(next.cookie(0)).isEqualTo(Sockets.cookie(t.server()));
                assertThat(fdinfo(next.fd())).containsEntry("map_id", String.valueOf(next.id()));
            }
        }
    }

    // ---- pinning ----

    @Test
    void aPinnedMapReopensWithTheSameIdAndEntries() throws IOException {
        try (TempBpfDir dir = BpfFs.tempDir(); Tcp t = Tcp.open()) {
            Path pin = dir.resolve("pinned");
            Map<Integer, Long> expected = Map.of(
                    0, Sockets.cookie(t.client()),
                    2, Sockets.cookie(t.server()));
            int id;
            try (SocketMap<Integer> map = kind().create("pinme", 3, 8)) {
                map.put(0, t.client());
                map.put(2, t.server());
                map.pin(pin);
                id = map.id();

                try (SocketMap<Integer> reopened = kind().openPinned(pin)) {
                    assertThat(reopened.fd()).isNotEqualTo(map.fd());
                    assertThat(reopened.id()).isEqualTo(id);
                    assertThat(entryMap(reopened)).isEqualTo(expected);
                }
            }
            // the pin alone keeps the map, and the sockets in it, alive
            try (SocketMap<Integer> reopened = kind().openPinned(pin)) {
                assertThat(reopened.id()).isEqualTo(id);
                assertThat(reopened.name()).isEqualTo("pinme");
                assertThat(reopened.maxEntries()).isEqualTo(3);
                assertThat(reopened.valueSize()).isEqualTo(8);
                assertThat(reopened.keySize()).isEqualTo(4);
                assertThat(entryMap(reopened)).isEqualTo(expected);

                reopened.delete(0);
                assertThat(entryMap(reopened)).containsOnly(Map.entry(2, Sockets.cookie(t.server())));
            }
        }
    }

    @Test
    void pinningAtATakenPathIsEEXIST() {
        try (TempBpfDir dir = BpfFs.tempDir();
                SocketMap<Integer> a = kind().create(1);
                SocketMap<Integer> b = kind().create(1)) {
            Path pin = dir.resolve("taken");
            a.pin(pin);

            // EEXIST from OBJ_PIN is about the path, not a key: a plain BpfException
            assertKernelError(() -> b.pin(pin), BpfException.class, Errno.EEXIST);
            try (SocketMap<Integer> reopened = kind().openPinned(pin)) {
                assertThat(reopened.id()).isEqualTo(a.id());
            }
        }
    }

    @Test
    void openPinnedOfAMissingPathIsENOENT() {
        try (TempBpfDir dir = BpfFs.tempDir()) {
            // ENOENT from OBJ_GET is about the path, not a key: a plain BpfException
            assertKernelError(() -> kind().openPinned(dir.resolve("missing")), BpfException.class, Errno.ENOENT);
        }
    }
}
