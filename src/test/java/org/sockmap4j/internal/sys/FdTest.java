package org.sockmap4j.internal.sys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.internal.unix.Libc;
import org.sockmap4j.testing.FdLeakCheck;

/** {@link Fd}: ownership of one descriptor, idempotent close, and checks. No privilege needed. */
@ExtendWith(FdLeakCheck.class)
class FdTest {

    private static final int F_GETFD = 1;
    private static final int EBADF = 9;

    private static int newSocket() {
        int fd = Libc.socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
        assertThat(fd).as("socket(AF_UNIX, SOCK_STREAM)").isPositive();
        return fd;
    }

    /** readlink of /proc/self/fd/N, or null if the fd is not open. */
    private static String target(int fd) {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /** Asserts that {@code fd} no longer refers to the socket whose /proc link target was {@code was}. */
    private static void assertClosed(int fd, String was) {
        String now = target(fd);
        // another thread may have got the same number meanwhile, but never the same socket
        assertThat(now).as("fd %d after close", fd).isNotEqualTo(was);
        if (now == null) {
            assertThat(Libc.fcntl(fd, F_GETFD, 0)).isEqualTo(-EBADF);
        }
    }

    @Test
    void ownsAndClosesASocket() {
        int raw = newSocket();
        String link = target(raw);
        assertThat(link).startsWith("socket:[");
        Fd fd = Fd.own(raw, "test socket");
        try {
            assertThat(fd.get()).isEqualTo(raw);
            assertThat(fd.isClosed()).isFalse();
            assertThat(fd.what()).isEqualTo("test socket");
            assertThat(fd).hasToString("test socket (fd " + raw + ")");
            assertThat(Libc.fcntl(raw, F_GETFD, 0)).isGreaterThanOrEqualTo(0);
        } finally {
            fd.close();
        }
        assertThat(fd.isClosed()).isTrue();
        assertThat(fd).hasToString("test socket (closed)");
        assertClosed(raw, link);
    }

    @Test
    void closeIsIdempotent() {
        int raw = newSocket();
        String link = target(raw);
        Fd fd = Fd.own(raw, "twice");
        fd.close();
        assertClosed(raw, link);
        // A second close must not close the number again: open another fd, which will likely get
        // the same number, and check it survives.
        int other = newSocket();
        String otherLink = target(other);
        try {
            fd.close();
            fd.close();
            assertThat(target(other)).isEqualTo(otherLink);
            assertThat(Libc.fcntl(other, F_GETFD, 0)).isGreaterThanOrEqualTo(0);
        } finally {
            Libc.close(other);
        }
    }

    @Test
    void getAfterCloseThrows() {
        Fd fd = Fd.own(newSocket(), "gone");
        fd.close();
        assertThatThrownBy(fd::get).isInstanceOf(IllegalStateException.class).hasMessageContaining("gone");
    }

    @Test
    void tryWithResourcesCloses() {
        int raw = newSocket();
        String link = target(raw);
        Fd kept;
        try (Fd fd = Fd.own(raw, "twr")) {
            kept = fd;
            assertThat(fd.get()).isEqualTo(raw);
        }
        assertThat(kept.isClosed()).isTrue();
        assertClosed(raw, link);
    }

    @Test
    void rejectsNegativeNumbers() {
        assertThatThrownBy(() -> Fd.own(-1, "minus one")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("-1");
        assertThatThrownBy(() -> Fd.own(Integer.MIN_VALUE, "min")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    @Timeout(30)
    void concurrentClosesCloseOnce() throws Exception {
        for (int round = 0; round < 20; round++) {
            int raw = newSocket();
            String link = target(raw);
            Fd fd = Fd.own(raw, "raced");
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    try {
                        go.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    fd.close();
                }));
            }
            go.countDown();
            for (Thread t : threads) {
                t.join();
            }
            assertThat(fd.isClosed()).isTrue();
            assertClosed(raw, link);
        }
    }

    @Test
    void aCloseDuringAUseClosesTheNumberAtTheLastRelease() {
        int raw = newSocket();
        String link = target(raw);
        Fd fd = Fd.own(raw, "in use");
        assertThat(fd.acquire()).isEqualTo(raw);
        assertThat(fd.acquire()).isEqualTo(raw); // a second use, e.g. a nested call
        fd.close();
        assertThat(fd.isClosed()).isTrue();
        assertThatThrownBy(fd::acquire).isInstanceOf(IllegalStateException.class).hasMessageContaining("in use");
        assertThatThrownBy(fd::get).isInstanceOf(IllegalStateException.class);
        // the kernel still has the same socket under the number while uses are in flight
        assertThat(target(raw)).isEqualTo(link);
        fd.release();
        assertThat(target(raw)).isEqualTo(link);
        fd.release();
        assertClosed(raw, link);
        fd.close(); // still idempotent
        assertClosed(raw, link);
    }

    @Test
    void aReleaseWithoutAnAcquireIsRefusedAndChangesNothing() {
        int raw = newSocket();
        String link = target(raw);
        Fd fd = Fd.own(raw, "unbalanced");
        try {
            assertThatThrownBy(fd::release).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("unbalanced");
            assertThat(fd.isClosed()).isFalse();
            assertThat(target(raw)).isEqualTo(link);
            fd.acquire();
            fd.release();
            assertThat(target(raw)).isEqualTo(link);
        } finally {
            fd.close();
        }
        assertClosed(raw, link);
        assertThatThrownBy(fd::release).isInstanceOf(IllegalStateException.class);
    }

    /**
     * Threads acquire and release the fd in a loop while another closes it: every acquire either
     * throws IllegalStateException or returns the number while it still names the same socket,
     * and the number ends closed.
     */
    @Test
    @Timeout(30)
    void usesRacingWithCloseNeverSeeTheNumberClosedUnderThem() throws Exception {
        for (int round = 0; round < 50; round++) {
            int raw = newSocket();
            String link = target(raw);
            Fd fd = Fd.own(raw, "raced use");
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
            for (int i = 0; i < 3; i++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    try {
                        go.await();
                        for (int n = 0; n < 10_000; n++) {
                            int number;
                            try {
                                number = fd.acquire();
                            } catch (IllegalStateException closed) {
                                return;
                            }
                            try {
                                // F_GETFD succeeds only while the number is open
                                if (Libc.fcntl(number, F_GETFD, 0) < 0) {
                                    failures.add(new AssertionError("fd " + number + " closed during a use"));
                                }
                            } finally {
                                fd.release();
                            }
                        }
                    } catch (Throwable t) {
                        failures.add(t);
                    }
                }));
            }
            go.countDown();
            Thread.sleep(0, 100_000 * (round % 5));
            fd.close();
            for (Thread t : threads) {
                t.join();
            }
            assertThat(failures).isEmpty();
            assertClosed(raw, link);
        }
    }
}
