package org.sockmap4j.internal.unix;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;

import org.sockmap4j.internal.sys.Scratch;
import org.sockmap4j.internal.sys.Syscall;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * A minimal epoll instance plus an eventfd to wake it, for a thread that watches raw socket fds
 * (the JDK's Selector only takes channels). Calls return results or {@code -errno}.
 */
public final class Epoll implements AutoCloseable {
    public static final int EPOLLIN = 0x001;
    public static final int EPOLLOUT = 0x004;
    public static final int EPOLLERR = 0x008;
    public static final int EPOLLHUP = 0x010;
    public static final int EPOLLRDHUP = 0x2000;
    public static final int EPOLLET = 1 << 31;
    private static final int EPOLL_CTL_ADD = 1;
    private static final int EPOLL_CTL_DEL = 2;
    private static final int EPOLL_CTL_MOD = 3;
    private static final int EPOLL_CLOEXEC = 0x80000;
    private static final int EFD_CLOEXEC = 0x80000;

    /** struct epoll_event is packed on x86_64: u32 events, u64 data (12 bytes). */
    private static final StructLayout EVENT = MemoryLayout.structLayout(JAVA_INT.withName("events"),
            JAVA_LONG_UNALIGNED.withName("data"));

    private static final Linker L = Linker.nativeLinker();
    private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
    private static final MethodHandle CREATE = h("epoll_create1", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle CTL = h("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle WAIT = h("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    /** epoll_pwait2 (glibc 2.35+, Linux 5.11+): a timeout in nanoseconds; null where libc lacks it. */
    private static final MethodHandle WAIT2 = L.defaultLookup().find("epoll_pwait2")
            .map(a -> L.downcallHandle(a, FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS),
                    ERRNO))
            .orElse(null);
    private static final int ENOSYS = 38;
    private static volatile boolean noWait2 = WAIT2 == null;
    private static final MethodHandle EVENTFD = h("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle WRITE = h("write",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));

    private static MethodHandle h(String name, FunctionDescriptor d) {
        return L.downcallHandle(L.defaultLookup().find(name).orElseThrow(), d, ERRNO);
    }

    private final int epfd;
    private final int wakeFd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment events;
    private final MemorySegment ctlEvent;
    private final MemorySegment timespec;
    private final int maxEvents;

    private Epoll(int epfd, int wakeFd, int maxEvents) {
        this.epfd = epfd;
        this.wakeFd = wakeFd;
        this.maxEvents = maxEvents;
        this.events = arena.allocate(EVENT.byteSize() * maxEvents, 8);
        this.ctlEvent = arena.allocate(EVENT);
        this.timespec = arena.allocate(16, 8);
    }

    /** A new epoll with its wake-up eventfd registered under data {@code -1}. */
    public static Epoll create(int maxEvents) {
        MemorySegment c = Scratch.get().capture;
        try {
            int ep = (int) CREATE.invokeExact(c, EPOLL_CLOEXEC);
            if (ep < 0) {
                throw new IllegalStateException("epoll_create1: errno " + Syscall.errno(c));
            }
            int ev = (int) EVENTFD.invokeExact(c, 0, EFD_CLOEXEC);
            if (ev < 0) {
                Libc.close(ep);
                throw new IllegalStateException("eventfd: errno " + Syscall.errno(c));
            }
            Epoll e = new Epoll(ep, ev, maxEvents);
            e.add(ev, EPOLLIN, -1L);
            return e;
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Watches {@code fd} for {@code mask}, reporting {@code data}. */
    public int add(int fd, int mask, long data) {
        return ctl(EPOLL_CTL_ADD, fd, mask, data);
    }

    /** Changes what {@code fd} is watched for (EPOLLERR and EPOLLHUP are always reported). */
    public int modify(int fd, int mask, long data) {
        return ctl(EPOLL_CTL_MOD, fd, mask, data);
    }

    private int ctl(int op, int fd, int mask, long data) {
        MemorySegment c = Scratch.get().capture;
        synchronized (ctlEvent) { // one shared event struct: callers may be several threads
            ctlEvent.set(JAVA_INT, 0, mask);
            ctlEvent.set(JAVA_LONG_UNALIGNED, 4, data);
            try {
                int r = (int) CTL.invokeExact(c, epfd, op, fd, ctlEvent);
                return r < 0 ? -Syscall.errno(c) : r;
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        }
    }

    /** Stops watching {@code fd}. */
    public int remove(int fd) {
        return ctl(EPOLL_CTL_DEL, fd, 0, 0);
    }

    /**
     * Waits up to {@code timeoutMs} and returns the number of events (or -errno); read them with
     * {@link #data(int)} and {@link #mask(int)}. Only one thread may wait.
     */
    public int await(int timeoutMs) {
        MemorySegment c = Scratch.get().capture;
        try {
            int r = (int) WAIT.invokeExact(c, epfd, events, maxEvents, timeoutMs);
            return r < 0 ? -Syscall.errno(c) : r;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * Like {@link #await} with a timeout in nanoseconds, for waits shorter than a millisecond
     * (epoll_pwait2, Linux 5.11+); where the kernel or libc lacks it, the timeout is rounded up to
     * whole milliseconds.
     */
    public int awaitNanos(long timeoutNanos) {
        if (noWait2) {
            return await((int) Math.min(Integer.MAX_VALUE, (timeoutNanos + 999_999) / 1_000_000));
        }
        MemorySegment c = Scratch.get().capture;
        timespec.set(JAVA_LONG, 0, timeoutNanos / 1_000_000_000L);
        timespec.set(JAVA_LONG, 8, timeoutNanos % 1_000_000_000L);
        try {
            int r = (int) WAIT2.invokeExact(c, epfd, events, maxEvents, timespec, MemorySegment.NULL);
            if (r < 0 && Syscall.errno(c) == ENOSYS) {
                noWait2 = true;
                return awaitNanos(timeoutNanos);
            }
            return r < 0 ? -Syscall.errno(c) : r;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public long data(int i) {
        return events.get(JAVA_LONG_UNALIGNED, i * EVENT.byteSize() + 4);
    }

    public int mask(int i) {
        return events.get(JAVA_INT, i * EVENT.byteSize());
    }

    /** Makes a waiting {@link #await} return (an event with data -1). */
    public void wakeUp() {
        MemorySegment c = Scratch.get().capture;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment one = a.allocate(JAVA_LONG);
            one.set(JAVA_LONG, 0, 1L);
            long r = (long) WRITE.invokeExact(c, wakeFd, one, 8L);
            if (r < 0) {
                throw new IllegalStateException("eventfd write: errno " + Syscall.errno(c));
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Drains the eventfd after a wake-up. */
    public void clearWakeUp() {
        try (Arena a = Arena.ofConfined()) {
            Libc.read(wakeFd, a.allocate(8));
        }
    }

    @Override
    public void close() {
        Libc.close(wakeFd);
        Libc.close(epfd);
        arena.close();
    }
}
