package org.sockmap4j;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

import org.sockmap4j.internal.sys.Fd;
import org.sockmap4j.internal.unix.Libc;

/**
 * A cgroup v2 directory, opened for attaching {@link SockOpsProgram}s (Linux 4.13+). Owns one
 * directory fd. Programs attached to it run for the sockets of every process in it and in its
 * descendants.
 *
 * <p><b>Removing the directory.</b> While a process is in the cgroup, {@code rmdir} fails with
 * EBUSY and nothing changes. Once it is empty, {@code rmdir} succeeds even with programs attached
 * and this handle open; the kernel then detaches every program itself (shortly after, when the
 * cgroup is released): a PROG_ATTACH'd program is freed unless something else holds it, a link
 * stays open but detached. Through this handle {@link #attachedPrograms} and new attachments then
 * fail with a {@link BpfException} carrying ENOENT; {@link Attachment#update} of a detached link
 * fails with ENOLINK; {@link Attachment#close()} succeeds.
 */
public final class Cgroup implements AutoCloseable {
    final Fd fd;
    private final Path path;

    private Cgroup(Fd fd, Path path) {
        this.fd = fd;
        this.path = path;
    }

    /**
     * Opens the cgroup v2 directory {@code dir}.
     *
     * @throws IllegalArgumentException if it does not exist, is not a directory or is not on a
     *     cgroup2 mount (a cgroup v1 hierarchy cannot take sock_ops programs)
     */
    public static Cgroup open(Path dir) {
        Objects.requireNonNull(dir, "dir");
        if (!Files.exists(dir)) {
            throw new IllegalArgumentException("Cgroup.open: no cgroup directory at " + dir + "; create it with "
                    + "mkdir in a cgroup2 hierarchy" + where());
        }
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("Cgroup.open: " + dir + " is a file, not a cgroup directory; "
                    + "pass a directory of a cgroup2 hierarchy" + where());
        }
        try {
            String type = Files.getFileStore(dir).type();
            if (!"cgroup2".equals(type)) {
                throw new IllegalArgumentException("Cgroup.open: " + dir + " is on a " + type + " file system, not "
                        + "cgroup2; pass a directory of a cgroup2 hierarchy" + where()
                        + " or mount one with: mount -t cgroup2 none DIR");
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("Cgroup.open: cannot read the file system of " + dir, e);
        }
        int r;
        try (Arena arena = Arena.ofConfined()) {
            r = Libc.open(arena.allocateFrom(dir.toString()), Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        }
        if (r < 0) {
            throw Errors.of("open", "cgroup " + dir, -r, Errors.Op.GENERIC);
        }
        return new Cgroup(Fd.own(r, "cgroup " + dir), dir);
    }

    /** Where cgroup2 is mounted here, for hints: " (mounted at X)", or "". */
    private static String where() {
        Path m = Cgroups.mountOf("cgroup2");
        return m == null ? "" : " (mounted at " + m + ")";
    }

    /**
     * A mounted cgroup v2 hierarchy where this process can create directories, if any (found in
     * {@code /proc/self/mountinfo}; never assumes a path).
     */
    public static java.util.Optional<Path> writableHierarchy() {
        return java.util.Optional.ofNullable(Cgroups.writableCgroup2());
    }

    /** The directory. */
    public Path path() {
        return path;
    }

    /** Moves process {@code pid} (all its threads) into this cgroup (writes {@code cgroup.procs}). */
    public void addProcess(long pid) {
        fd.get();
        try {
            Files.writeString(path.resolve("cgroup.procs"), Long.toString(pid));
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot move pid " + pid + " into " + path + ": " + e.getMessage(), e);
        }
    }

    /** Moves the calling process into this cgroup. */
    public void addCurrentProcess() {
        addProcess(ProcessHandle.current().pid());
    }

    /**
     * Moves one thread into this cgroup (writes {@code cgroup.threads}). cgroup v2 moves single
     * threads only within a threaded subtree: this directory must be threaded
     * ({@code cgroup.type} is {@code threaded}, see {@link #makeThreaded()}) and the thread's process
     * must already be in the subtree's domain. Sockets a thread creates belong to the cgroup the
     * thread is in at that moment, so moving one thread scopes SOCK_OPS programs to its sockets.
     */
    public void addThread(long tid) {
        fd.get();
        try {
            Files.writeString(path.resolve("cgroup.threads"), Long.toString(tid));
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot move thread " + tid + " into " + path + " (is it a threaded "
                    + "cgroup whose domain holds the thread's process?): " + e.getMessage(), e);
        }
    }

    /** Moves the calling thread into this cgroup; see {@link #addThread(long)}. */
    public void addCurrentThread() {
        addThread(Threads.gettid());
    }

    /** Turns this cgroup into a threaded one (writes {@code threaded} to {@code cgroup.type}). */
    public void makeThreaded() {
        fd.get();
        try {
            Files.writeString(path.resolve("cgroup.type"), "threaded");
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot make " + path + " threaded: " + e.getMessage(), e);
        }
    }

    /** Ids of the programs attached at {@code type} ({@code BPF_PROG_QUERY}). */
    public List<Integer> attachedPrograms(AttachType type) {
        int cg = fd.acquire();
        try {
            return Queries.progIds(cg, type, toString());
        } finally {
            fd.release();
        }
    }

    /** The directory fd, owned by this object; for interop only. */
    public int fd() {
        return fd.get();
    }

    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return "cgroup " + path;
    }
}
