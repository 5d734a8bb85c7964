package org.sockmap4j.concurrency;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestReporter;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.KeyCodec;
import org.sockmap4j.KeyNotFoundException;
import org.sockmap4j.SockHash;
import org.sockmap4j.SocketMap;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

/**
 * Many threads on one SOCKHASH while the sockets in it are closed and reopened underneath: each
 * worker ({@link SockHashWorker}) runs a seeded mix of insert (BPF_ANY, NOEXIST, EXIST), remove,
 * lookup of its own and of any key, and key iteration; a further thread closes a random
 * connection of a {@link SocketPool} and opens a new one, over and over. Every exception must be
 * one the library documents for the situation:
 * <ul>
 *   <li>{@code KeyNotFoundException} (ENOENT): lookup, remove or EXIST insert of an empty key, or
 *       of one whose socket was being closed;</li>
 *   <li>{@code KeyExistsException} (EEXIST): NOEXIST insert of a taken key;</li>
 *   <li>{@code BpfException} EBADF / ENOTSOCK and {@code UnsupportedSocketException} EOPNOTSUPP:
 *       only for an insert whose socket's connection was being replaced during the call (the
 *       number was closed, reused by a non-socket, or named a socket not established);</li>
 *   <li>{@code BpfException} EBUSY: an insert of a socket whose last map entry another thread was
 *       removing at that moment (the kernel is tearing down the socket's psock; the map is
 *       unchanged and a retry succeeds). The library documents no EBUSY for inserts: a finding.</li>
 * </ul>
 * Afterwards the map must hold exactly what the workers know they left, minus the entries of
 * sockets closed since (checked by cookie), and nothing once all sockets are closed.
 *
 * <p>Size: {@code -Dsockmap4j.stress.threads} (default {@value #THREADS}) workers of
 * {@code -Dsockmap4j.stress.ops} (default {@value #OPS}) operations; seed:
 * {@code -Dsockmap4j.stress.seed} (default random, printed).
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(600)
class SockHashStressTest {

    static final int THREADS = 8;
    static final int OPS = 100_000;
    static final int KEYS_PER_THREAD = 8;
    static final int SLOTS = 16;
    /** Hang guard only: workers stop here even if not done (and the test then fails). */
    static final long MAX_SECONDS = 300;

    @Test
    void mixedOperationsWhileSocketsCloseAndReopen(TestReporter report) throws Exception {
        int threads = Integer.getInteger("sockmap4j.stress.threads", THREADS);
        long ops = Long.getLong("sockmap4j.stress.ops", OPS);
        long seed = Long.getLong("sockmap4j.stress.seed", ThreadLocalRandom.current().nextLong());
        int keys = threads * KEYS_PER_THREAD;
        ExecutorService pool = Executors.newFixedThreadPool(threads + 1);
        long start = System.nanoTime();
        try (SockHash<Integer> map = SockHash.builder(KeyCodec.u32()).maxEntries(2 * keys).name("stress").create();
             SocketPool sockets = new SocketPool(SLOTS)) {
            List<SockHashWorker> workers = new ArrayList<>();
            List<Future<Long>> done = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(MAX_SECONDS);
            AtomicBoolean stop = new AtomicBoolean();
            for (int t = 0; t < threads; t++) {
                SockHashWorker w = new SockHashWorker(map, sockets, t * KEYS_PER_THREAD, KEYS_PER_THREAD, keys,
                        seed + t);
                workers.add(w);
                done.add(pool.submit(() -> {
                    try {
                        return w.run(ops, deadline, stop);
                    } catch (Throwable e) {
                        stop.set(true); // the others stop too
                        throw e;
                    }
                }));
            }
            Future<Long> reopener = pool.submit(() -> {
                ThreadLocalRandom r = ThreadLocalRandom.current();
                long n = 0;
                for (; !stop.get() && System.nanoTime() - deadline < 0; n++) {
                    sockets.reopen(r.nextInt(sockets.size()));
                }
                return n;
            });
            long total = 0;
            long reopened;
            try {
                for (Future<Long> f : done) {
                    total += f.get(MAX_SECONDS + 30, TimeUnit.SECONDS); // a worker's AssertionError surfaces here
                }
            } finally {
                stop.set(true);
                reopened = reopener.get(30, TimeUnit.SECONDS); // before the pool closes its sockets
            }
            long millis = (System.nanoTime() - start) / 1_000_000;

            Map<String, Long> outcomes = new TreeMap<>();
            workers.forEach(w -> w.outcomes.forEach((k, v) -> outcomes.merge(k, v, Long::sum)));
            String summary = threads + " threads x " + ops + " ops (" + total + " done) in " + millis + " ms, "
                    + reopened + " connections closed and reopened, seed " + seed + "; outcomes " + outcomes;
            report.publishEntry("stress", summary);
            System.out.println("SockHashStressTest: " + summary);
            assertThat(total).as("operations done (seed %d)", seed).isEqualTo(threads * ops);
            assertThat(reopened).isPositive();

            // the map against what the workers know, with every socket's state settled
            Map<Integer, Long> actual = new HashMap<>();
            for (SocketMap.Entry<Integer> e : map.entries()) {
                actual.put(e.key(), e.cookie());
            }
            for (int t = 0; t < threads; t++) {
                SockHashWorker w = workers.get(t);
                for (int k = 0; k < KEYS_PER_THREAD; k++) {
                    int key = t * KEYS_PER_THREAD + k;
                    SockHashWorker.Belief b = w.beliefs[k];
                    Long cookie = actual.get(key);
                    String ctx = "key " + key + " (belief " + b.state + ", seed " + seed + ")";
                    switch (b.state) {
                        case ABSENT -> assertThat(cookie).as(ctx).isNull();
                        case PRESENT -> {
                            if (b.gen.isClosing()) {
                                assertThat(cookie).as(ctx + ": its socket was closed").isNull();
                            } else {
                                assertThat(cookie).as(ctx).isEqualTo(b.cookie);
                            }
                        }
                        case UNKNOWN -> {
                            if (cookie != null) {
                                assertThat(sockets.byCookie(cookie)).as(ctx).isNotNull()
                                        .satisfies(g -> assertThat(g.isClosing()).as(ctx + ": closed socket")
                                                .isFalse());
                            }
                        }
                    }
                }
            }
            assertThat(actual.keySet()).as("keys (seed %d)", seed).allSatisfy(k -> assertThat(k).isBetween(0, keys - 1));

            sockets.close();
            assertThat(map.keys()).as("entries after every socket was closed").isEmpty();
            for (int key = 0; key < keys; key++) {
                int k = key;
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> map.cookie(k))
                        .isExactlyInstanceOf(KeyNotFoundException.class);
            }
        } finally {
            pool.shutdownNow();
            assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
        }
    }
}
