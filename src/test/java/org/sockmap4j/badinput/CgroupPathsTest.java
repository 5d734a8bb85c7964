package org.sockmap4j.badinput;

import static org.assertj.core.api.Assertions.assertThat;
import static org.sockmap4j.badinput.Refusal.assertRefused;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.sockmap4j.Cgroup;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TempMount;

/**
 * Paths that are no cgroup v2 directory: {@link Cgroup#open} refuses them with an
 * IllegalArgumentException that names the path and says where cgroup2 is mounted, before it
 * opens anything (no fd is left behind). The first three need no privileges; the mounts need root.
 */
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class CgroupPathsTest {

    @Test
    void aPathThatDoesNotExist(@TempDir Path tmp) {
        Path missing = tmp.resolve("no-such-cgroup");
        assertRefused(() -> Cgroup.open(missing).close(), IllegalArgumentException.class, "Cgroup.open",
                missing.toString(), "create it with mkdir in a cgroup2 hierarchy");
        assertThat(missing).doesNotExist();
    }

    @Test
    void aRegularFile(@TempDir Path tmp) throws IOException {
        Path file = Files.writeString(tmp.resolve("cgroup.procs"), "1\n");
        assertRefused(() -> Cgroup.open(file).close(), IllegalArgumentException.class, "Cgroup.open",
                file + " is a file", "pass a directory of a cgroup2 hierarchy");
    }

    @Test
    void procIsNotCgroup2() {
        assertRefused(() -> Cgroup.open(Path.of("/proc")).close(), IllegalArgumentException.class, "Cgroup.open",
                "/proc is on a proc file system", "mount -t cgroup2 none DIR");
    }

    @Test
    @Privileged
    void aTmpfsDirectoryIsNotCgroup2() throws IOException {
        try (TempMount tmpfs = TempMount.of("tmpfs", "size=64k,mode=0755", "sm4j_badinput")) {
            Path dir = Files.createDirectory(tmpfs.path().resolve("looks_like_a_cgroup"));
            Files.writeString(dir.resolve("cgroup.procs"), ""); // still not cgroup2
            assertRefused(() -> Cgroup.open(dir).close(), IllegalArgumentException.class, "Cgroup.open",
                    dir + " is on a tmpfs file system", "pass a directory of a cgroup2 hierarchy");
        }
    }

    /** A named cgroup v1 hierarchy without controllers, mounted for this test only. */
    @Test
    @Privileged
    void aCgroupV1HierarchyIsNotCgroup2() throws IOException {
        try (TempMount v1 = TempMount.of("cgroup", "none,name=sm4j_badinput", "cgroup")) {
            assertThat(v1.path().resolve("cgroup.procs")).exists(); // a real cgroup directory, of v1
            assertRefused(() -> Cgroup.open(v1.path()).close(), IllegalArgumentException.class, "Cgroup.open",
                    v1.path() + " is on a cgroup file system", "not cgroup2");
        }
    }
}
