package org.sockmap4j.internal.sys;

import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.sockmap4j.internal.unix.Libc;

/**
 * Owns exactly one file descriptor. Rejects negative numbers; never keeps fd 0 (a 0 is moved to
 * a higher number, so a zeroed attr field can never name it by accident). {@link #close()} is
 * idempotent and thread-safe. A {@link Cleaner} closes a forgotten fd when its owner becomes
 * unreachable and logs the leak (WARNING on the {@code System.Logger} "org.sockmap4j", naming the
 * object): it is a backstop, not a way to manage fds. The Cleaner's action holds only the fd
 * number and the description, never the owner. {@link #backstop} gives the same to resources that
 * are not one fd (a libbpf object).
 */
public final class Fd implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();
    private static final System.Logger LOG = System.getLogger("org.sockmap4j");

    /** The fd number, or -1 once closed; shared with the cleaner action. */
    private static final class State implements Runnable {
        final AtomicInteger fd;
        final Object what; // its toString() describes the fd; computed only when needed

        State(int fd, Object what) {
            this.fd = new AtomicInteger(fd);
            this.what = what;
        }

        @Override
        public void run() { // only reached when the owner was never closed
            int n = fd.getAndSet(-1);
            if (n >= 0) {
                LOG.log(System.Logger.Level.WARNING,
                        "sockmap4j: {0} (fd {1}) was not closed; closing it now. Use try-with-resources.",
                        what, n);
                Libc.close(n);
            }
        }
    }

    private final State state;
    private final Cleaner.Cleanable cleanable;

    /** Runs a release action once, unless disarmed first; shared with the Cleaner. */
    private static final class Release implements Runnable {
        final AtomicBoolean armed = new AtomicBoolean(true);
        final Object what;
        final Runnable release;

        Release(Object what, Runnable release) {
            this.what = what;
            this.release = release;
        }

        @Override
        public void run() { // reached by the Cleaner only while armed, i.e. the owner was never closed
            if (armed.getAndSet(false)) {
                LOG.log(System.Logger.Level.WARNING,
                        "sockmap4j: {0} was not closed; closing it now. Use try-with-resources.", what);
                release.run();
            }
        }
    }

    /** A registered backstop; see {@link #backstop}. */
    public static final class Backstop {
        private final Release state;
        private final Cleaner.Cleanable cleanable;

        private Backstop(Release state, Cleaner.Cleanable cleanable) {
            this.state = state;
            this.cleanable = cleanable;
        }

        /** The owner is being closed properly: the release action will never run. Idempotent. */
        public void disarm() {
            state.armed.set(false);
            cleanable.clean();
        }
    }

    /**
     * A Cleaner backstop for a resource that is not a single fd: if {@code owner} becomes
     * unreachable before {@link Backstop#disarm()}, {@code release} runs on the Cleaner's thread
     * and the leak is logged as for an fd. Neither {@code what} nor {@code release} may refer to
     * {@code owner} (that would keep it reachable).
     */
    public static Backstop backstop(Object owner, Object what, Runnable release) {
        Release state = new Release(what, release);
        return new Backstop(state, CLEANER.register(owner, state));
    }

    private Fd(int fd, Object what) {
        this.state = new State(fd, what);
        this.cleanable = CLEANER.register(this, state);
    }

    /**
     * Takes ownership of {@code fd}, which must be a fresh, open descriptor.
     *
     * @param what a short description for leak reports, e.g. {@code "sockhash 'proxy'"}; any
     *     object whose {@code toString()} gives it, called only when a message needs it. It must
     *     not refer to the fd's owner (that would keep the owner reachable).
     */
    public static Fd own(int fd, Object what) {
        if (fd < 0) {
            throw new IllegalArgumentException("negative fd " + fd);
        }
        if (fd == 0) {
            int moved = Libc.fcntl(0, Libc.F_DUPFD_CLOEXEC, 1);
            Libc.close(0);
            if (moved < 0) {
                throw new IllegalStateException("cannot move fd 0 away: errno " + -moved);
            }
            fd = moved;
        }
        return new Fd(fd, what);
    }

    /**
     * What kind of BPF object an fd refers to, from {@code /proc/self/fd/N} ({@code bpf-map},
     * {@code bpf-prog}; {@code bpf_link} for a new link, {@code bpf-link} for one opened from a
     * pin or an id), or null if it is none of them.
     */
    public static String bpfKind(int fd) {
        try {
            String t = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/" + fd)).toString();
            return switch (t) {
                case "anon_inode:bpf-map" -> "map";
                case "anon_inode:bpf-prog" -> "program";
                case "anon_inode:bpf_link", "anon_inode:bpf-link" -> "link";
                default -> null;
            };
        } catch (java.io.IOException e) {
            return null;
        }
    }

    /**
     * The number, or throws {@link IllegalStateException} if closed; its message names the library
     * call that used the closed object (see {@link ApiCall}). No closed number reaches the kernel.
     */
    public int get() {
        int n = state.fd.get();
        if (n < 0) {
            throw closed(state.what);
        }
        return n;
    }

    /** The exception for a use of {@code what} after it was closed. */
    public static IllegalStateException closed(Object what) {
        return new IllegalStateException(ApiCall.name() + ": " + what
                + " is closed; it cannot be used after close() (create or open a new one)");
    }

    public boolean isClosed() {
        return state.fd.get() < 0;
    }

    /** What this fd is, as given to {@link #own}. */
    public String what() {
        return String.valueOf(state.what);
    }

    @Override
    public void close() {
        int n = state.fd.getAndSet(-1);
        if (n >= 0) {
            cleanable.clean(); // unregisters; State.run sees -1 and does nothing
            Libc.close(n);
        }
    }

    @Override
    public String toString() {
        int n = state.fd.get();
        return n < 0 ? state.what + " (closed)" : state.what + " (fd " + n + ")";
    }
}
