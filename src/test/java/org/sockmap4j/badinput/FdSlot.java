package org.sockmap4j.badinput;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;

import org.sockmap4j.internal.unix.Libc;

/**
 * An fd number of this process, taken over by the test on purpose: after a library object closed
 * its fd, the test puts another file at the very same number (as the next open in any thread
 * would), so a use after close or a second close that still reached the kernel would hit it.
 */
final class FdSlot implements AutoCloseable {
    private final int fd;
    private final String target;
    private final boolean owned;

    private FdSlot(int fd, String target, boolean owned) {
        this.fd = fd;
        this.target = target;
        this.owned = owned;
    }

    /**
     * Makes {@code number}, a free number, refer to what {@code fd} refers to: a duplicate there
     * (fcntl F_DUPFD_CLOEXEC, owned by the slot), or {@code fd} itself if it already got that
     * number (then the slot only watches it).
     */
    static FdSlot dupAt(int fd, int number) {
        if (fd == number) {
            return new FdSlot(fd, link(fd), false);
        }
        int n = Libc.fcntl(fd, Libc.F_DUPFD_CLOEXEC, number);
        if (n != number) {
            if (n >= 0) {
                Libc.close(n);
            }
            throw new AssertionError("fd " + number + " is not free for the test to take (fcntl gave " + n + ")");
        }
        return new FdSlot(n, link(n), true);
    }

    /** Puts /dev/null at the free number {@code number}. */
    static FdSlot devNullAt(int number) {
        int devNull;
        try (Arena arena = Arena.ofConfined()) {
            devNull = Libc.open(arena.allocateFrom("/dev/null"), Libc.O_RDONLY | Libc.O_CLOEXEC);
        }
        assertThat(devNull).isNotNegative();
        if (devNull == number) { // the lowest free number: open(2) took it
            return new FdSlot(devNull, link(devNull), true);
        }
        try {
            return dupAt(devNull, number);
        } finally {
            Libc.close(devNull);
        }
    }

    int fd() {
        return fd;
    }

    /** Asserts the number is still open and still refers to what the test put there. */
    void assertUntouched() {
        assertThat(Path.of("/proc/self/fd/" + fd)).as("fd %d", fd).exists();
        assertThat(link(fd)).as("what fd %d refers to", fd).isEqualTo(target);
    }

    private static String link(int fd) {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Closes the number if the slot put a file there; a watched fd stays with its owner. */
    @Override
    public void close() {
        if (owned) {
            Libc.close(fd);
        }
    }
}
