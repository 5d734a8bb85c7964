package org.sockmap4j.badinput;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Assumptions;
import org.sockmap4j.testing.Exec;

/**
 * A file system this test mounts on a fresh directory under /tmp; {@link #close()} unmounts it
 * (lazily if it is busy) and removes the directory. Needs root.
 */
final class TempMount implements AutoCloseable {
    private final Path dir;
    private boolean mounted;

    private TempMount(Path dir) {
        this.dir = dir;
    }

    /**
     * {@code mount -t TYPE -o OPTIONS SOURCE DIR}. When the kernel does not know the file system
     * type (ENODEV: "unknown filesystem type") the test is skipped as "kernel lacks TYPE".
     */
    static TempMount of(String type, String options, String source) throws IOException {
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

    Path path() {
        return dir;
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
