package org.sockmap4j.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Assumptions;

/**
 * A file system a test mounts on a fresh directory under /tmp (a private bpffs, a small tmpfs, a
 * named cgroup v1 hierarchy); {@link #close()} unmounts it (lazily if it is busy, taking pins
 * with it) and removes the directory, also after {@link #unmountLazily()}. Needs root. Test
 * sources only (badinput and reliability tests).
 */
public final class TempMount implements AutoCloseable {
    private final Path dir;
    private boolean mounted;

    private TempMount(Path dir) {
        this.dir = dir;
    }

    /**
     * {@code mount -t TYPE -o OPTIONS SOURCE DIR}. When the kernel does not know the file system
     * type (ENODEV: "unknown filesystem type") the test is skipped as "kernel lacks TYPE".
     */
    public static TempMount of(String type, String options, String source) throws IOException {
        TempMount m = new TempMount(Files.createTempDirectory(Path.of("/tmp"), "sm4j-mnt"));
        try {
            Exec.Result r = Exec.run("mount", "-t", type, "-o", options, source, m.dir.toString());
            if (!r.ok() && r.stderr().contains("unknown filesystem type")) {
                Assumptions.abort("kernel lacks the " + type + " file system: " + r.stderr().strip());
            }
            r.check();
            m.mounted = true;
            return m;
        } catch (RuntimeException | Error e) {
            m.close();
            throw e;
        }
    }

    /** The mount point. */
    public Path path() {
        return dir;
    }

    /** {@code umount -l}: the mount leaves the tree now, its objects live on while in use. */
    public void unmountLazily() {
        Exec.check("umount", "-l", dir.toString());
        mounted = false;
    }

    @Override
    public void close() {
        if (mounted) {
            Exec.Result r = Exec.run("umount", dir.toString());
            if (!r.ok()) {
                Exec.check("umount", "-l", dir.toString());
            }
            mounted = false;
        }
        try {
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            throw new IllegalStateException("cannot remove " + dir, e);
        }
    }
}
