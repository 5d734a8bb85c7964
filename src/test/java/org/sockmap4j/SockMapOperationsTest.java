package org.sockmap4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.sockmap4j.MapTestSupport.assertKernelError;
import static org.sockmap4j.MapTestSupport.entryMap;
import static org.sockmap4j.MapTestSupport.fdinfo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.MapTestSupport.Kind;
import org.sockmap4j.MapTestSupport.Tcp;
import org.sockmap4j.testing.BpfFs;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TempBpfDir;

/**
 * {@link SockMap} on the real kernel: the shared map behaviour of {@link SocketMapContract}, plus
 * what only an array of sockets has (index range, every slot walked by GET_NEXT_KEY) and the
 * {@code int} overloads.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(30)
class SockMapOperationsTest extends SocketMapContract {

    @Override
    Kind kind() {
        return Kind.SOCKMAP;
    }

    @Test
    void createHasEightByteValuesAndNoName() {
        try (SockMap map = SockMap.create(5)) {
            assertThat(fdinfo(map.fd())).containsEntry("map_type", "15")
                    .containsEntry("key_size", "4")
                    .containsEntry("value_size", "8")
                    .containsEntry("max_entries", "5");
            assertThat(map.info().name()).isEmpty();
            assertThat(map.name()).isEmpty();
        }
    }

    @Test
    void intOverloadsInsertLookUpAndDelete() throws IOException {
        try (SockMap map = SockMap.create(4); Tcp t = Tcp.open()) {
            int clientFd = Sockets.fd(t.client());
            map.put(0, clientFd);
            map.put(1, clientFd, UpdateFlag.NOEXIST);
            map.put(2, t.server());
            map.put(3, t.server(), UpdateFlag.NOEXIST);
            map.put(3, t.client(), UpdateFlag.EXIST);

            assertThat(map.cookie(0)).isEqualTo(Sockets.cookie(t.client()));
            assertThat(map.cookie(1)).isEqualTo(Sockets.cookie(t.client()));
            assertThat(map.cookie(2)).isEqualTo(Sockets.cookie(t.server()));
            assertThat(map.cookie(3)).isEqualTo(Sockets.cookie(t.client()));
            assertKernelError(() -> map.put(0, t.server(), UpdateFlag.NOEXIST), KeyExistsException.class,
                    Errno.EEXIST);

            map.delete(0);
            map.delete(3);
            assertKernelError(() -> map.cookie(0), KeyNotFoundException.class, Errno.ENOENT);
            assertKernelError(() -> map.delete(3), BpfException.class, Errno.EINVAL);
            assertThat(map.keys()).containsExactly(1, 2);
        }
    }

    @Test
    void anIndexNotBelowMaxEntriesIsOutOfRange() throws IOException {
        try (SockMap map = SockMap.create(2); Tcp t = Tcp.open()) {
            int fd = Sockets.fd(t.client());

            // insert: E2BIG, for 2 and for -1 (u32 0xffffffff)
            assertKernelError(() -> map.put(2, fd), MapFullException.class, Errno.E2BIG);
            assertKernelError(() -> map.put(-1, t.client()), MapFullException.class, Errno.E2BIG);
            assertKernelError(() -> map.put(Integer.valueOf(2), fd, UpdateFlag.ANY), MapFullException.class,
                    Errno.E2BIG);
            // lookup: ENOENT; delete: EINVAL, like an empty slot
            assertKernelError(() -> map.cookie(2), KeyNotFoundException.class, Errno.ENOENT);
            assertKernelError(() -> map.delete(2), BpfException.class, Errno.EINVAL);
            assertThat(map.deleteIfPresent(2)).isFalse();
            assertThat(map.containsKey(2)).isFalse();
            assertThat(map.keys()).isEmpty();
        }
    }

    @Test
    void getNextKeyWalksEverySlotOfAnEmptySockmapAndEachAnswersENOENT() {
        try (SockMap map = SockMap.create(3)) {
            // unlike a hash, every index "exists" for iteration (kernel-scenarios.md)
            assertThat(map.walkKeys()).containsExactly(0, 1, 2);
            for (int i = 0; i < 3; i++) {
                int index = i;
                assertKernelError(() -> map.cookie(index), KeyNotFoundException.class, Errno.ENOENT);
            }
            assertThat(map.keys()).isEmpty(); // what callers see: only slots that hold a socket
        }
    }

    @Test
    void keysOfASockmapWithFourByteValuesIsENOSPC() {
        // SockMap.keys() must look every slot up, and the kernel refuses lookups with 4-byte values
        try (SockMap map = SockMap.builder().maxEntries(2).valueSize(4).create()) {
            assertThat(map.walkKeys()).containsExactly(0, 1);
            assertKernelError(map::keys, BpfException.class, Errno.ENOSPC);
        }
    }

    @Test
    void aSockmapIsNotOpenedAsASockhash() {
        try (TempBpfDir dir = BpfFs.tempDir(); SockMap map = SockMap.create(1)) {
            Path pin = dir.resolve("sockmap");
            map.pin(pin);

            assertThatThrownBy(() -> SockHash.openPinned(pin, KeyCodec.u32()))
                    .isInstanceOf(IllegalArgumentException.class);
            try (SockMap reopened = SockMap.openPinned(pin)) { // still fine as what it is
                assertThat(reopened.id()).isEqualTo(map.id());
            }
        }
    }

    @Test
    void pinningOutsideBpffsIsEPERM() throws IOException {
        Path notBpffs = Files.createTempDirectory(Path.of("/tmp"), "sm4j");
        try (SockMap map = SockMap.create(1)) {
            // the kernel answers EPERM (not EINVAL) for a directory that is not on bpffs
            assertKernelError(() -> map.pin(notBpffs.resolve("map")), PermissionException.class, Errno.EPERM);
            assertThat(notBpffs.resolve("map")).doesNotExist();
        } finally {
            Files.deleteIfExists(notBpffs);
        }
    }

    @Test
    void openPinnedOfAFileThatIsNoBpfObjectIsEACCES() throws IOException {
        Path plain = Files.createTempFile(Path.of("/tmp"), "sm4j", "");
        try {
            // BPF_OBJ_GET answers EACCES (even to root) for anything that is not a bpffs object
            assertKernelError(() -> SockMap.openPinned(plain), PermissionException.class, Errno.EACCES);
        } finally {
            Files.deleteIfExists(plain);
        }
    }

    @Test
    void badNamesAndSizesAreRefusedBeforeTheKernelSeesThem() {
        SockMap.Builder b = SockMap.builder();
        assertThatThrownBy(() -> b.name("sixteen_chars_16")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.name("dash-name")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.name("a b")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.name("caf\u00e9")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.name(null)).isInstanceOf(NullPointerException.class);

        // the kernel would answer EINVAL (a BpfException) to these; the library answers first
        for (int valueSize : new int[] {0, 1, 2, 16, -8}) {
            assertThatThrownBy(() -> SockMap.builder().valueSize(valueSize).create())
                    .isInstanceOf(IllegalArgumentException.class);
        }
        for (int maxEntries : new int[] {0, -1, Integer.MIN_VALUE}) {
            assertThatThrownBy(() -> SockMap.create(maxEntries)).isInstanceOf(IllegalArgumentException.class);
        }
        // a refused name leaves the builder usable
        try (SockMap map = b.name("still_ok").maxEntries(2).create()) {
            assertThat(map.info().name()).isEqualTo("still_ok");
            assertThat(entryMap(map)).isEqualTo(Map.of());
        }
    }
}
