package org.sockmap4j.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A uniquely named cgroup v2 directory for one test, under {@link Cgroups#hierarchy()}.
 *
 * <p>{@link #close()} moves every process still in it (or in a cgroup a test created below it)
 * back to the hierarchy's root cgroup, then removes the directories, retrying briefly while the
 * kernel reports them busy.
 *
 * <pre>{@code
 * try (TestCgroup cg = TestCgroup.create()) {
 *     cg.addProcess(child.pid());
 *     ... attach a SOCK_OPS program to cg.path() ...
 * }
 * }</pre>
 */
public final class TestCgroup implements AutoCloseable {

    private static final long CLOSE_RETRY_MILLIS = 3000;

    private final Path root;
    private final Path path;
    private boolean closed;

    private TestCgroup(Path root, Path path) {
        this.root = root;
        this.path = path;
    }

    /** Creates a new cgroup {@code sockmap4j-test-<random>} at the top of {@link Cgroups#hierarchy()}. */
    public static TestCgroup create() {
        Path root = Cgroups.hierarchy();
        for (int attempt = 0; ; attempt++) {
            Path dir = root.resolve(Cgroups.uniqueName("test"));
            try {
                return new TestCgroup(root, Files.createDirectory(dir));
            } catch (FileAlreadyExistsException e) {
                if (attempt > 10) {
                    throw new UncheckedIOException(e);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create cgroup " + dir, e);
            }
        }
    }

    /** The cgroup's directory (what to open for attaching cgroup BPF programs). */
    public Path path() {
        return path;
    }

    /** The root of the hierarchy it lives in, where {@link #close()} moves processes back to. */
    public Path hierarchyRoot() {
        return root;
    }

    /** Moves a process (all its threads) into this cgroup by writing its pid to {@code cgroup.procs}. */
    public void addProcess(long pid) {
        try {
            writePid(path, pid);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot move pid " + pid + " into " + path, e);
        }
    }

    /** The pids now in this cgroup (not in its descendants). */
    public List<Long> processes() {
        try {
            return readPids(path);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Moves remaining processes back to the root cgroup and removes this cgroup and any below it.
     * Idempotent.
     *
     * @throws IllegalStateException if the cgroup is still there after a few seconds of retrying
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        long deadline = System.nanoTime() + CLOSE_RETRY_MILLIS * 1_000_000;
        IOException last = null;
        while (true) {
            List<Path> dirs;
            try (Stream<Path> walk = Files.walk(path)) {
                dirs = walk.filter(Files::isDirectory).sorted(Comparator.reverseOrder()).toList();
            } catch (NoSuchFileException e) {
                return;
            } catch (IOException e) {
                throw new IllegalStateException("cannot list " + path, e);
            }
            for (Path dir : dirs) {
                try {
                    for (long pid : readPids(dir)) {
                        moveToRoot(pid);
                    }
                    Files.deleteIfExists(dir); // rmdir
                } catch (IOException e) {
                    last = e;
                }
            }
            if (!Files.exists(path)) {
                return;
            }
            if (System.nanoTime() > deadline) {
                List<Long> left = Files.exists(path) ? processes() : List.of();
                throw new IllegalStateException("could not remove cgroup " + path + " (processes " + left + ")", last);
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while removing cgroup " + path, e);
            }
        }
    }

    private void moveToRoot(long pid) throws IOException {
        try {
            writePid(root, pid);
        } catch (IOException e) {
            if (ProcessHandle.of(pid).isPresent()) {
                throw e;
            }
            // it exited meanwhile
        }
    }

    private static void writePid(Path cgroup, long pid) throws IOException {
        // one write(2) per pid; no O_CREAT/O_TRUNC on a kernfs file
        Files.write(cgroup.resolve("cgroup.procs"), (pid + "\n").getBytes(StandardCharsets.US_ASCII),
                StandardOpenOption.WRITE);
    }

    private static List<Long> readPids(Path cgroup) throws IOException {
        List<Long> pids = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(cgroup.resolve("cgroup.procs"))) {
                if (!line.isBlank()) {
                    pids.add(Long.parseLong(line.strip()));
                }
            }
        } catch (NoSuchFileException e) {
            // removed meanwhile
        }
        return pids;
    }

    @Override
    public String toString() {
        return path.toString();
    }
}
