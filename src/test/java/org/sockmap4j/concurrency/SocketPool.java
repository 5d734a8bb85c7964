package org.sockmap4j.concurrency;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;

/**
 * Slots of loopback TCP connections that one thread closes and reopens while others use them.
 * Each slot has a version, odd while its connection is being replaced (a seqlock): a user who
 * reads the same even version before and after a call knows that the fd numbers it used named
 * the slot's connection for the whole call. Every connection ever opened is in {@link #byCookie}.
 */
final class SocketPool implements AutoCloseable {

    /** One connection of a slot; {@code closing} is set before it is closed. */
    record Gen(Loopback.Conn conn, AtomicBoolean closing) {
        boolean isClosing() {
            return closing.get();
        }
    }

    private final Loopback loopback;
    private final AtomicReferenceArray<Gen> slots;
    private final AtomicIntegerArray versions;
    /** Every connection ever opened here, by the cookie of each end. */
    private final Map<Long, Gen> byCookie = new ConcurrentHashMap<>();
    /** Reopens in progress: their new sockets exist before their cookies are in {@link #byCookie}. */
    private final AtomicInteger reopening = new AtomicInteger();

    SocketPool(int size) throws IOException {
        this.loopback = Loopback.open();
        this.slots = new AtomicReferenceArray<>(size);
        this.versions = new AtomicIntegerArray(size);
        try {
            for (int i = 0; i < size; i++) {
                slots.set(i, open());
            }
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    private Gen open() throws IOException {
        Gen g = new Gen(loopback.connect(), new AtomicBoolean());
        byCookie.put(g.conn().clientCookie(), g);
        byCookie.put(g.conn().serverCookie(), g);
        return g;
    }

    int size() {
        return slots.length();
    }

    int version(int slot) {
        return versions.get(slot);
    }

    Gen gen(int slot) {
        return slots.get(slot);
    }

    /**
     * The connection one end of which has {@code cookie}, or null if it is none of the pool's. A
     * socket a reopen is creating can be seen (in the map, through a reused number) before the
     * reopen records it, so an unknown cookie is looked up again once no reopen is in progress.
     */
    Gen byCookie(long cookie) {
        Gen g = byCookie.get(cookie);
        // parks rather than spins: on a busy machine a spinning caller would starve the reopener
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (g == null && reopening.get() > 0 && System.nanoTime() - until < 0) {
            LockSupport.parkNanos(100_000);
            g = byCookie.get(cookie);
        }
        return g != null ? g : byCookie.get(cookie);
    }

    /** Closes the slot's connection (both ends) and puts a new one in its place. */
    void reopen(int slot) {
        reopening.incrementAndGet();
        try {
            replace(slot);
        } finally {
            reopening.decrementAndGet();
        }
    }

    private void replace(int slot) {
        versions.incrementAndGet(slot); // odd: numbers of this slot may change under a caller
        Gen old = slots.get(slot);
        old.closing().set(true);
        try {
            old.conn().close();
            slots.set(slot, open());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            versions.incrementAndGet(slot);
        }
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (int i = 0; i < slots.length(); i++) {
            Gen g = slots.get(i);
            if (g == null) {
                continue;
            }
            g.closing().set(true);
            try {
                g.conn().close();
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        loopback.close();
        if (first != null) {
            throw first;
        }
    }
}
