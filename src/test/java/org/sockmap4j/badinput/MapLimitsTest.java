package org.sockmap4j.badinput;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.sockmap4j.badinput.Refusal.assertKernelRefused;
import static org.sockmap4j.badinput.Refusal.assertRefused;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.BpfException;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Errno;
import org.sockmap4j.KeyCodec;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockMap;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

/**
 * Map sizes the kernel or the library refuse, beyond a full map and an index out of range
 * (SockHashOperationsTest, SockMapOperationsTest) and sizes below one (BuilderArgumentsTest):
 * a sockhash too big to have buckets, the same size set on an object's map (a load failure that
 * is not the verifier's), and a size below one on an object's map.
 *
 * <p>No huge SOCKMAP here: the kernel allocates its array up front (8 bytes per entry), so
 * Integer.MAX_VALUE entries would take 16 GiB on a machine that has them.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class MapLimitsTest {

    @Test
    void aSockhashOfIntegerMaxValueEntriesIsEINVAL() {
        // 2^31 buckets: more than the kernel's U32_MAX / bucket size, refused before it allocates
        assertKernelRefused(() -> SockHash.builder(KeyCodec.u32()).name("huge").maxEntries(Integer.MAX_VALUE)
                .create().close(), BpfException.class, Errno.EINVAL, "BPF_MAP_CREATE", "sockhash 'huge'",
                "max_entries larger than the kernel allows");
    }

    @Test
    void theSameSizeOnAnObjectsMapFailsTheLoadWithLibbpfsWordsNotAsTheVerifier() {
        BpfObject obj = BpfObject.openBundled("bypass").maxEntries("sock_hash", Integer.MAX_VALUE);
        try {
            BpfException e = assertKernelRefused(obj::load, BpfException.class, Errno.EINVAL, "bpf_object__load",
                    "BPF object 'bypass'", "libbpf said: map 'sock_hash': failed to create");
            assertThat(e.hint()).doesNotContain("failed to load object");
            // a failed load closes the object: libbpf cannot load it again
            assertThat(obj.toString()).endsWith("(closed)");
            assertThatThrownBy(() -> obj.sockHash("sock_hash", KeyCodec.bytes(44)))
                    .isInstanceOf(IllegalStateException.class);
        } finally {
            obj.close();
        }
    }

    @Test
    void maxEntriesBelowOneOnAnObjectsMapIsRefusedBeforeTheKernel() {
        try (BpfObject obj = BpfObject.openBundled("redirect")) {
            assertRefused(() -> obj.maxEntries("sock_map", 0), IllegalArgumentException.class,
                    "BpfObject.maxEntries", "map 'sock_map' of BPF object 'redirect'", "at least 1, got 0");
            obj.load();
            try (SockMap map = obj.sockMap("sock_map")) {
                assertThat(map.info().maxEntries()).isEqualTo(64); // the refused call changed nothing
            }
        }
    }
}
