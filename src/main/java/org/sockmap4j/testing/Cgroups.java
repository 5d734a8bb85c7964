package org.sockmap4j.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * Finds or mounts a cgroup v2 hierarchy in which tests can create cgroups.
 *
 * <p>{@link #hierarchy()} looks at the cgroup2 mounts in {@code /proc/self/mountinfo} and takes the
 * first where a test directory can be created and removed (whole-hierarchy mounts first); failing
 * that it mounts cgroup2 at {@value #FALLBACK} (unmounted by a shutdown hook if no test cgroup
 * remains in it). The result is cached for the JVM. Per-test cgroups come from {@link #create()}.
 */
public final class Cgroups {

    /** Where a cgroup2 hierarchy is mounted if no mounted one is writable. */
    public static final String FALLBACK = "/tmp/sockmap4j-cgroup2";

    /** Name prefix of every cgroup the harness creates. */
    static final String PREFIX = "sockmap4j-";

    private static Path hierarchy;
    private static String failure;
    private static Throwable failureCause;

    private Cgroups() {
    }

    /**
     * The root of a writable cgroup2 hierarchy, mounting one if needed.
     *
     * @throws RuntimeException from {@link PrivilegedExtension#unavailable} if none can be had: the
     *                          test is skipped, or fails under {@code sockmap4j.requirePrivileged}
     */
    public static synchronized Path hierarchy() {
        if (hierarchy != null) {
            return hierarchy;
        }
        if (failure != null) {
            throw PrivilegedExtension.unavailable(failure, failureCause);
        }
        try {
            hierarchy = findOrMount();
            return hierarchy;
        } catch (RuntimeException e) {
            failure = "a writable cgroup2 hierarchy (" + e.getMessage() + ")";
            failureCause = e;
            throw PrivilegedExtension.unavailable(failure, e);
        }
    }

    /** A new, uniquely named child cgroup of {@link #hierarchy()}; see {@link TestCgroup}. */
    public static TestCgroup create() {
        return TestCgroup.create();
    }

    static String uniqueName(String kind) {
        return PREFIX + kind + "-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    }

    private static Path findOrMount() {
        List<MountInfo> candidates = new ArrayList<>();
        for (MountInfo m : MountInfo.read()) {
            if (m.fsType().equals("cgroup2") && m.isVisible()) {
                candidates.add(m);
            }
        }
        candidates.sort((a, b) -> Boolean.compare(!a.root().equals("/"), !b.root().equals("/")));
        StringBuilder errors = new StringBuilder();
        for (MountInfo m : candidates) {
            String error = probe(m.mountPoint());
            if (error == null) {
                return m.mountPoint();
            }
            errors.append(m.mountPoint()).append(": ").append(error).append("; ");
        }
        Path fallback = Path.of(FALLBACK);
        try {
            Files.createDirectories(fallback);
        } catch (IOException e) {
            throw new IllegalStateException(errors + "cannot create " + fallback + ": " + e, e);
        }
        boolean mountedHere = MountInfo.at(fallback).filter(m -> m.fsType().equals("cgroup2") && m.isVisible()).isPresent();
        if (!mountedHere) {
            Exec.Result r = Exec.run("mount", "-t", "cgroup2", "none", fallback.toString());
            if (!r.ok()) {
                throw new IllegalStateException(errors + "mount -t cgroup2 at " + fallback + ": " + r.stderr().strip());
            }
            Runtime.getRuntime().addShutdownHook(new Thread(() -> unmountIfUnused(fallback), "sockmap4j-cgroup2-umount"));
        }
        String error = probe(fallback);
        if (error != null) {
            throw new IllegalStateException(errors + fallback.toString() + ": " + error);
        }
        return fallback;
    }

    /** Null if a directory can be created and removed under root, else why not. */
    private static String probe(Path root) {
        Path dir = root.resolve(uniqueName("probe"));
        try {
            Files.createDirectory(dir);
        } catch (IOException e) {
            return e.toString();
        }
        try {
            Files.delete(dir);
            return null;
        } catch (IOException e) {
            return "created but cannot remove " + dir + ": " + e;
        }
    }

    private static void unmountIfUnused(Path mountPoint) {
        try (Stream<Path> children = Files.list(mountPoint)) {
            if (children.anyMatch(p -> p.getFileName().toString().startsWith(PREFIX))) {
                return; // another JVM (or a leaked test cgroup) still uses it
            }
        } catch (IOException e) {
            return;
        }
        if (Exec.run("umount", mountPoint.toString()).ok()) {
            try {
                Files.deleteIfExists(mountPoint);
            } catch (IOException ignored) {
                // leave the empty directory
            }
        }
    }
}
