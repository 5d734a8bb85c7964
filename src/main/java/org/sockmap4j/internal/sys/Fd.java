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
 *
 * <p>Closing cannot race with a system call that uses the number: calls bracket their use with
 * {@link #acquire()} and {@link #release()}, and a {@link #close()} that arrives while uses are in
 * flight only marks the fd closed (new {@code acquire}s throw {@link IllegalStateException}); the
 * last {@code release} then closes the number. Without this, a thread could read the number, lose
 * the CPU, and have its call act on whatever object the kernel gave that number to after a close
 * on another thread (another map, a socket, a file). {@link #get()} has no such guard; it is for
 * handing the number out for interop, where the caller owns the race.
 */
public final class Fd implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();
    private static final System.Logger LOG = System.getLogger("org.sockmap4j");
    /** Set in {@link State#ctl} once close was requested; the low bits count uses in flight. */
    private static final int CLOSED = 0x8000_0000;

    /** The fd number and its use count; shared with the cleaner action. */
    private static final class State implements Runnable {
        final int fd;
        /** {@link #CLOSED} once closing began, plus the number of {@code acquire}s not yet released. */
        final AtomicInteger ctl = new AtomicInteger();
        final Object what; // its toString() describes the fd; computed only when needed

        State(int fd, Object what) {
            this.fd = fd;
            this.what = what;
        }

        @Override
        public void run() { // explicitly: from close(), which set CLOSED first; else: the owner was never closed
            int c = ctl.getAndUpdate(x -> x | CLOSED);
            if ((c & CLOSED) == 0) {
                // unreachable owner: no use can be in flight (a user holds the owner) or ever start
                LOG.log(System.Logger.Level.WARNING,
                        "sockmap4j: {0} (fd {1}) was not closed; closing it now. Use try-with-resources.",
                        what, fd);
                Libc.close(fd);
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
     * The number, for a system call that uses it: until the matching {@link #release()}, a
     * {@link #close()} on any thread leaves the number open (and closes it at that release).
     * Always pair them: {@code int n = fd.acquire(); try { ... } finally { fd.release(); }}.
     *
     * @throws IllegalStateException if closed (or closing)
     */
    public int acquire() {
        AtomicInteger ctl = state.ctl;
        for (;;) {
            int c = ctl.get();
            if ((c & CLOSED) != 0) {
                throw closed(state.what);
            }
            if (ctl.compareAndSet(c, c + 1)) {
                return state.fd;
            }
        }
    }

    /** The exception for a use of {@code what} after it was closed. */
    public static IllegalStateException closed(Object what) {
        return new IllegalStateException(ApiCall.name() + ": " + what
                + " is closed; it cannot be used after close() (create or open a new one)");
    }

    /** Ends a use begun by {@link #acquire()}; the last one after a {@link #close()} closes the number. */
    public void release() {
        AtomicInteger ctl = state.ctl;
        for (;;) {
            int c = ctl.get();
            if ((c & ~CLOSED) == 0) {
                throw new IllegalStateException("release() without acquire() on " + state.what);
            }
            if (ctl.compareAndSet(c, c - 1)) {
                if (c - 1 == CLOSED) {
                    Libc.close(state.fd);
                }
                return;
            }
        }
    }

    /**
     * The number, or throws {@link IllegalStateException} if closed. Not guarded against a
     * concurrent {@link #close()}: use {@link #acquire()} for system calls.
     */
    public int get() {
        if (isClosed()) {
            throw closed(state.what);
        }
        return state.fd;
    }

    /** Whether {@link #close()} was called (the number itself may stay open until its last use ends). */
    public boolean isClosed() {
        return (state.ctl.get() & CLOSED) != 0;
    }

    /** What this fd is, as given to {@link #own}. */
    public String what() {
        return String.valueOf(state.what);
    }

    /**
     * Closes the fd: now, or when the last use in flight ({@link #acquire()} without its
     * {@link #release()} yet) ends. Idempotent.
     */
    @Override
    public void close() {
        int c = state.ctl.getAndUpdate(x -> x | CLOSED);
        if ((c & CLOSED) != 0) {
            return;
        }
        cleanable.clean(); // unregisters; State.run sees CLOSED and does nothing
        if (c == 0) {
            Libc.close(state.fd);
        }
    }

    @Override
    public String toString() {
        return isClosed() ? state.what + " (closed)" : state.what + " (fd " + state.fd + ")";
    }
}
