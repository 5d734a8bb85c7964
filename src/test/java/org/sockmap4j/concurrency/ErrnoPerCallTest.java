package org.sockmap4j.concurrency;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.TestReporter;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sockmap4j.BpfException;
import org.sockmap4j.Errno;
import org.sockmap4j.KeyCodec;
import org.sockmap4j.KeyExistsException;
import org.sockmap4j.KeyNotFoundException;
import org.sockmap4j.MapFullException;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockMap;
import org.sockmap4j.Sockets;
import org.sockmap4j.UpdateFlag;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

/**
 * errno is captured per call: threads that fail at the same moment with different errnos each
 * get their own in the typed exception, over many iterations, on platform threads and on
 * virtual threads. Each thread repeats one failing call (a lookup of a missing key: ENOENT; a
 * NOEXIST insert of a taken key: EEXIST; an insert of an fd number that is not open: EBADF, of a
 * map fd: ENOTSOCK, of fd -1: EINVAL, at a SOCKMAP index past the end: E2BIG; SO_COOKIE of a map
 * fd: ENOTSOCK from getsockopt, of a closed number: EBADF) while another thread's calls succeed
 * (insert, look up and remove a socket no other thread uses: removing a socket's last entry
 * tears down its psock, and an insert of that socket meanwhile fails with EBUSY); every exception
 * must have exactly the class and errno of its own call.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(120)
class ErrnoPerCallTest {

    private static final int ITERATIONS = 5_000;
    /** Above any RLIMIT_NOFILE here, so never an open fd. */
    private static final int NOT_OPEN = 0x3fff_0000;

    /** A failing call and what it must throw. */
    private record Case(String name, Class<? extends BpfException> type, Errno errno, String operation,
            ThrowingCall call) {}

    @FunctionalInterface
    private interface ThrowingCall {
        void run();
    }

    @ParameterizedTest(name = "{0} threads")
    @ValueSource(strings = {"platform", "virtual"})
    void eachThreadSeesTheErrnoOfItsOwnCall(String kind, TestReporter report) throws Exception {
        try (Loopback lo = Loopback.open(); Loopback.Conn conn = lo.connect();
             SockHash<Integer> hash = SockHash.create(KeyCodec.u32(), 16);
             SockHash<Integer> other = SockHash.create(KeyCodec.u32(), 1);
             SockMap sockMap = SockMap.create(2)) {
            hash.put(0, conn.clientFd());
            int mapFd = other.fd();
            List<Case> cases = List.of(
                    new Case("lookup of a missing key", KeyNotFoundException.class, Errno.ENOENT,
                            "BPF_MAP_LOOKUP_ELEM", () -> hash.cookie(7)),
                    // the socket already at the key: an insert of a socket whose last entry another
                    // thread is removing can fail with EBUSY before the key is looked at
                    new Case("NOEXIST insert of a taken key", KeyExistsException.class, Errno.EEXIST,
                            "BPF_MAP_UPDATE_ELEM", () -> hash.put(0, conn.clientFd(), UpdateFlag.NOEXIST)),
                    new Case("insert of a number that is not open", BpfException.class, Errno.EBADF,
                            "BPF_MAP_UPDATE_ELEM", () -> hash.put(1, NOT_OPEN)),
                    new Case("insert of a map fd", BpfException.class, Errno.ENOTSOCK, "BPF_MAP_UPDATE_ELEM",
                            () -> hash.put(2, mapFd)),
                    new Case("insert of fd -1", BpfException.class, Errno.EINVAL, "BPF_MAP_UPDATE_ELEM",
                            () -> hash.put(3, -1)),
                    new Case("insert past the end of a sockmap", MapFullException.class, Errno.E2BIG,
                            "BPF_MAP_UPDATE_ELEM", () -> sockMap.put(5, conn.clientFd())),
                    new Case("SO_COOKIE of a map fd", BpfException.class, Errno.ENOTSOCK, "getsockopt(SO_COOKIE)",
                            () -> Sockets.cookie(mapFd)),
                    new Case("SO_COOKIE of a number that is not open", BpfException.class, Errno.EBADF,
                            "getsockopt(SO_COOKIE)", () -> Sockets.cookie(NOT_OPEN)));

            Map<String, Integer> wrong = new ConcurrentHashMap<>();
            CountDownLatch go = new CountDownLatch(1);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            List<Future<Integer>> failing = new ArrayList<>();
            Future<Integer> succeeding;
            try (ExecutorService threads = kind.equals("virtual") ? Executors.newVirtualThreadPerTaskExecutor()
                    : Executors.newFixedThreadPool(cases.size() + 1)) {
                for (Case c : cases) {
                    failing.add(threads.submit(() -> {
                        go.await();
                        int n = 0;
                        for (; n < ITERATIONS && System.nanoTime() - deadline < 0; n++) {
                            try {
                                c.call().run();
                                wrong.merge(c.name() + ": no exception", 1, Integer::sum);
                            } catch (BpfException e) {
                                if (e.getClass() != c.type() || e.errno() != c.errno()
                                        || e.errnoCode() != c.errno().code() || !e.operation().equals(c.operation())) {
                                    wrong.merge(c.name() + ": " + e.getClass().getSimpleName() + " " + e.operation()
                                            + " " + e.errno(), 1, Integer::sum);
                                }
                            }
                        }
                        return n;
                    }));
                }
                succeeding = threads.submit(() -> {
                    go.await();
                    int n = 0;
                    for (; n < ITERATIONS && System.nanoTime() - deadline < 0; n++) {
                        hash.put(4, conn.serverFd());
                        if (hash.cookie(4) != conn.serverCookie()) {
                            wrong.merge("succeeding thread: wrong cookie", 1, Integer::sum);
                        }
                        hash.delete(4);
                    }
                    return n;
                });
                go.countDown();
            }
            Map<String, Integer> iterations = new TreeMap<>();
            for (int i = 0; i < cases.size(); i++) {
                iterations.put(cases.get(i).name(), failing.get(i).get());
            }
            int succeeded = succeeding.get();
            String summary = kind + " threads: " + iterations + "; succeeding thread " + succeeded + " rounds";
            report.publishEntry(summary);
            System.out.println("ErrnoPerCallTest: " + summary);
            assertThat(wrong).as("calls that got another call's errno, or none").isEmpty();
            assertThat(iterations.values()).allSatisfy(n -> assertThat(n).isEqualTo(ITERATIONS));
            assertThat(succeeded).isEqualTo(ITERATIONS);
        }
    }
}
