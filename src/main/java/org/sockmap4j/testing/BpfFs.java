package org.sockmap4j.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Finds or mounts a bpffs for pinning BPF objects in tests.
 *
 * <p>{@link #ensureMounted()} uses {@code /sys/fs/bpf} if a bpffs is mounted there, else mounts one
 * there ({@code mount -t bpf bpf /sys/fs/bpf}, left mounted: that is where the system expects it);
 * if that is impossible it falls back to another bpffs mount or mounts one at {@value #FALLBACK},
 * which a shutdown hook unmounts. The result is cached for the JVM.
 *
 * <p>Use {@link #tempDir()} to get a per-test directory that is removed with everything pinned in
 * it. Note that bpffs refuses names containing a dot, and that a process started with
 * {@code ip netns exec} gets a fresh {@code /sys} and does not see this mount.
 */
public final class BpfFs {

    /** Where bpffs is normally mounted. */
    public static final Path DEFAULT = Path.of("/sys/fs/bpf");

    /** Where a private bpffs is mounted if {@link #DEFAULT} cannot be used. */
    public static final String FALLBACK = "/tmp/sockmap4j-bpffs";

    private static Path mount;
    private static String failure;
    private static Throwable failureCause;

    private BpfFs() {
    }

    /**
     * The path of a bpffs mount, mounting one if needed.
     *
     * @throws RuntimeException from {@link PrivilegedExtension#unavailable} if no bpffs can be had:
     *                          the test is skipped, or fails under {@code sockmap4j.requirePrivileged}
     */
    public static synchronized Path ensureMounted() {
        if (mount != null) {
            return mount;
        }
        if (failure != null) {
            throw PrivilegedExtension.unavailable(failure, failureCause);
        }
        try {
            mount = findOrMount();
            return mount;
        } catch (RuntimeException e) {
            failure = "bpffs (" + e.getMessage() + ")";
            failureCause = e;
            throw PrivilegedExtension.unavailable(failure, e);
        }
    }

    /** Whether the mount visible at exactly this path is a bpffs. */
    public static boolean isBpfMount(Path path) {
        return MountInfo.at(path.toAbsolutePath().normalize())
                .filter(m -> m.fsType().equals("bpf") && m.isVisible()).isPresent();
    }

    /** A new, uniquely named directory on the bpffs, removed recursively by its {@code close()}. */
    public static TempBpfDir tempDir() {
        return TempBpfDir.create();
    }

    private static Path findOrMount() {
        if (isBpfMount(DEFAULT)) {
            return DEFAULT;
        }
        StringBuilder errors = new StringBuilder();
        if (Files.isDirectory(DEFAULT)) {
            Exec.Result r = Exec.run("mount", "-t", "bpf", "bpf", DEFAULT.toString());
            if (r.ok() && isBpfMount(DEFAULT)) {
                return DEFAULT;
            }
            errors.append("mount at ").append(DEFAULT).append(": ").append(r.stderr().strip());
        } else {
            errors.append(DEFAULT).append(" does not exist");
        }
        List<MountInfo> others = MountInfo.read().stream().filter(m -> m.fsType().equals("bpf")).toList();
        for (MountInfo m : others.reversed()) {
            if (isBpfMount(m.mountPoint()) && Files.isWritable(m.mountPoint())) {
                return m.mountPoint();
            }
        }
        Path fallback = Path.of(FALLBACK);
        try {
            Files.createDirectories(fallback);
        } catch (IOException e) {
            throw new IllegalStateException(errors + "; cannot create " + fallback + ": " + e, e);
        }
        if (isBpfMount(fallback)) {
            return fallback;
        }
        Exec.Result r = Exec.run("mount", "-t", "bpf", "bpf", fallback.toString());
        if (!r.ok() || !isBpfMount(fallback)) {
            throw new IllegalStateException(errors + "; mount at " + fallback + ": " + r.stderr().strip());
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            Exec.run("umount", fallback.toString());
            try {
                Files.deleteIfExists(fallback);
            } catch (IOException ignored) {
                // still mounted or not empty: leave it
            }
        }, "sockmap4j-bpffs-umount"));
        return fallback;
    }
}
