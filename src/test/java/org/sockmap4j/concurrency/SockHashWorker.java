package org.sockmap4j.concurrency;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import org.sockmap4j.BpfException;
import org.sockmap4j.Errno;
import org.sockmap4j.KeyExistsException;
import org.sockmap4j.KeyNotFoundException;
import org.sockmap4j.SockHash;
import org.sockmap4j.UnsupportedSocketException;
import org.sockmap4j.UpdateFlag;

/**
 * One thread of {@link SockHashStressTest}: mixed operations on a shared SOCKHASH. It writes
 * (insert, replace, remove) only its own keys, so it knows what each should hold, reads any key,
 * and walks all keys. What it knows about its keys, and every outcome, is checked against what the
 * kernel answers; the socket pool may close the socket behind a key at any moment, which the
 * worker allows for exactly (see {@link SocketPool}).
 */
final class SockHashWorker {

    /** What a key holds as far as this worker knows. */
    enum State { ABSENT, PRESENT, UNKNOWN }

    /** Belief about one own key. */
    static final class Belief {
        State state = State.ABSENT;
        SocketPool.Gen gen;
        long cookie;

        void absent() {
            state = State.ABSENT;
            gen = null;
        }

        void present(SocketPool.Gen g, long c) {
            state = State.PRESENT;
            gen = g;
            cookie = c;
        }

        void unknown() {
            state = State.UNKNOWN;
            gen = null;
        }

        /** Whether the socket it holds is being closed (so the kernel may have removed the entry). */
        boolean closing() {
            return state == State.PRESENT && gen.isClosing();
        }
    }

    private final SockHash<Integer> map;
    private final SocketPool pool;
    private final int firstKey;
    private final int ownKeys;
    private final int allKeys;
    private final SplittableRandom rnd;
    final Belief[] beliefs;
    /** Outcome counts: "op clean|racing -> ok|ExceptionClass(ERRNO)". */
    final Map<String, Long> outcomes = new TreeMap<>();

    SockHashWorker(SockHash<Integer> map, SocketPool pool, int firstKey, int ownKeys, int allKeys, long seed) {
        this.map = map;
        this.pool = pool;
        this.firstKey = firstKey;
        this.ownKeys = ownKeys;
        this.allKeys = allKeys;
        this.rnd = new SplittableRandom(seed);
        this.beliefs = new Belief[ownKeys];
        for (int i = 0; i < ownKeys; i++) {
            beliefs[i] = new Belief();
        }
    }

    /**
     * Runs {@code ops} operations, stopping early only at {@code deadline} (System.nanoTime) or
     * when {@code stop} is set (another worker failed).
     */
    long run(long ops, long deadline, java.util.concurrent.atomic.AtomicBoolean stop) {
        long done = 0;
        for (; done < ops && (done % 1024 != 0 || System.nanoTime() - deadline < 0 && !stop.get()); done++) {
            int r = rnd.nextInt(100);
            int k = rnd.nextInt(ownKeys);
            if (r < 30) {
                put(k, UpdateFlag.ANY);
            } else if (r < 40) {
                put(k, UpdateFlag.NOEXIST);
            } else if (r < 50) {
                put(k, UpdateFlag.EXIST);
            } else if (r < 70) {
                delete(k);
            } else if (r < 83) {
                lookupOwn(k);
            } else if (r < 98) {
                lookupAny(rnd.nextInt(allKeys));
            } else {
                iterate();
            }
        }
        return done;
    }

    private void count(String op, boolean clean, Object outcome) {
        String o = outcome instanceof BpfException e ? e.getClass().getSimpleName() + "(" + e.errno() + ")"
                : String.valueOf(outcome);
        outcomes.merge(op + (clean ? " clean -> " : " racing -> ") + o, 1L, Long::sum);
    }

    private static AssertionError fail(String what, Throwable cause) {
        return new AssertionError(what, cause);
    }

    /**
     * The errors a put may get while its socket's slot is being closed and reopened under it: the
     * number is closed (EBADF), names a non-socket (ENOTSOCK), or names a socket the map does not
     * take yet or any more (EOPNOTSUPP: a new socket before connect, or one whose peer closed).
     */
    private static boolean racingPutError(BpfException e) {
        return e.getClass() == BpfException.class && (e.errno() == Errno.EBADF || e.errno() == Errno.ENOTSOCK)
                || e.getClass() == UnsupportedSocketException.class && e.errno() == Errno.EOPNOTSUPP;
    }

    /**
     * EBUSY: the socket's psock is being torn down because another thread just removed the
     * socket's last map entry (the kernel's sock_map_psock_get_checked finds its refcount at
     * zero). Sockets are shared between workers, so this can hit any insert; the map is unchanged.
     */
    private static boolean psockTeardown(BpfException e) {
        return e.getClass() == BpfException.class && e.errno() == Errno.EBUSY;
    }

    private static boolean is(BpfException e, Class<? extends BpfException> type, Errno errno) {
        return e.getClass() == type && e.errno() == errno;
    }

    private void put(int k, UpdateFlag flag) {
        int key = firstKey + k;
        Belief b = beliefs[k];
        int slot = rnd.nextInt(pool.size());
        int side = rnd.nextInt(2);
        int v1 = pool.version(slot);
        SocketPool.Gen gen = pool.gen(slot);
        int fd = gen.conn().fd(side);
        long cookie = gen.conn().cookie(side);
        BpfException error = null;
        try {
            map.put(key, fd, flag);
        } catch (BpfException e) {
            error = e;
        }
        boolean clean = v1 % 2 == 0 && pool.version(slot) == v1;
        String op = "put " + flag;
        count(op, clean, error == null ? "ok" : error);
        String ctx = op + " key " + key + " (belief " + b.state + ", " + (clean ? "clean" : "racing") + ")";
        if (error != null && (!clean && racingPutError(error) || psockTeardown(error))) {
            return; // the map is unchanged
        }
        if (error == null) {
            boolean allowed = switch (flag) {
                case ANY -> true;
                case NOEXIST -> b.state != State.PRESENT || b.closing();
                case EXIST -> b.state != State.ABSENT;
            };
            if (!allowed) {
                throw fail(ctx + " succeeded", null);
            }
            if (clean) {
                b.present(gen, cookie);
            } else {
                b.unknown(); // which socket the number named is not known
            }
            return;
        }
        boolean allowed = switch (flag) {
            case ANY -> false;
            case NOEXIST -> is(error, KeyExistsException.class, Errno.EEXIST) && b.state != State.ABSENT;
            case EXIST -> is(error, KeyNotFoundException.class, Errno.ENOENT)
                    && (b.state != State.PRESENT || b.closing());
        };
        if (!allowed) {
            throw fail(ctx + " failed", error);
        }
        if (flag == UpdateFlag.EXIST) {
            b.absent();
        }
    }

    private void delete(int k) {
        int key = firstKey + k;
        Belief b = beliefs[k];
        BpfException error = null;
        try {
            map.delete(key);
        } catch (BpfException e) {
            error = e;
        }
        count("delete", true, error == null ? "ok" : error);
        String ctx = "delete key " + key + " (belief " + b.state + ")";
        if (error == null ? b.state == State.ABSENT
                : !is(error, KeyNotFoundException.class, Errno.ENOENT) || b.state == State.PRESENT && !b.closing()) {
            throw fail(ctx + (error == null ? " succeeded" : " failed"), error);
        }
        b.absent();
    }

    private void lookupOwn(int k) {
        int key = firstKey + k;
        Belief b = beliefs[k];
        long cookie;
        try {
            cookie = map.cookie(key);
        } catch (BpfException e) {
            count("lookup own", true, e);
            if (!is(e, KeyNotFoundException.class, Errno.ENOENT) || b.state == State.PRESENT && !b.closing()) {
                throw fail("lookup key " + key + " (belief " + b.state + ") failed", e);
            }
            b.absent();
            return;
        }
        count("lookup own", true, "ok");
        SocketPool.Gen g = pool.byCookie(cookie);
        if (b.state == State.ABSENT || b.state == State.PRESENT && cookie != b.cookie || g == null) {
            throw fail("lookup key " + key + " (belief " + b.state + (b.state == State.PRESENT ? " cookie " + b.cookie
                    : "") + ") returned cookie " + cookie + (g == null ? ", no socket of the pool" : ""), null);
        }
        b.present(g, cookie);
    }

    private void lookupAny(int key) {
        try {
            long cookie = map.cookie(key);
            count("lookup any", true, "ok");
            if (pool.byCookie(cookie) == null) {
                throw fail("lookup key " + key + " returned cookie " + cookie + ", no socket of the pool", null);
            }
        } catch (BpfException e) {
            count("lookup any", true, e);
            if (!is(e, KeyNotFoundException.class, Errno.ENOENT)) {
                throw fail("lookup key " + key + " failed", e);
            }
        }
    }

    private void iterate() {
        List<Integer> keys = map.keys(); // any BpfException fails the worker
        count("iterate", true, "ok");
        for (int k : keys) {
            if (k < 0 || k >= allKeys) {
                throw fail("iteration returned key " + k + ", outside 0.." + (allKeys - 1), null);
            }
        }
    }
}
