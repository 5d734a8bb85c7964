package org.sockmap4j;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.LockSupport;

import org.sockmap4j.internal.unix.Libc;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The user-space part of a {@link Splicer}'s hand-off: moves bytes both ways between the two
 * sockets, non-blocking, until each receive queue has been read to empty and everything read has
 * been written to the other side.
 *
 * <p>Why to empty: the kernel's verdict reader ({@code tcp_read_skb}) takes whole queued segments
 * and ignores how much of one was already read, and TCP may append new data to the last queued
 * segment, so a socket may enter the map only after a read that found its queue empty (EAGAIN) and
 * no read since. Why both ways at once: when the two peers talk at the same time (an echo, a
 * server that speaks first), one direction can only progress while the other is read, so draining
 * them one after the other can wait forever.
 *
 * <p>A side's end of stream (FIN) read here is reported ({@link Side#eof}); the pump stops reading
 * that side. Runs on the caller's thread; on a virtual thread it parks between polls instead of
 * blocking its carrier in {@code poll(2)}.
 */
final class HandOffPump {
    private static final int BUF = 256 * 1024;
    private static final short POLLIN = 0x001;

    /** One direction: bytes read from {@code from}, waiting to be written to {@code to}. */
    static final class Side {
        final int from;
        final int to;
        final String what;
        final MemorySegment buf;
        long off;
        long len;
        /** The last read found the queue empty, and nothing was read since. */
        boolean clean;
        boolean eof;
        long moved;

        Side(int from, int to, String what, Arena arena) {
            this.from = from;
            this.to = to;
            this.what = what;
            this.buf = arena.allocate(BUF);
        }

        boolean pending() {
            return off < len;
        }

        boolean done() {
            return (clean || eof) && !pending();
        }
    }

    private HandOffPump() {}

    /**
     * Writes {@code toUpstream} and {@code toClient} first, then pumps until both directions are
     * {@linkplain Side#done() done} or {@code deadline} (nanoTime) passes.
     *
     * @return {client to upstream, upstream to client}; their {@code moved} excludes the pending
     *         bytes the caller passed
     */
    static Side[] run(int client, ByteBuffer toUpstream, int upstream, ByteBuffer toClient, long deadline,
            Arena arena) {
        Side c2u = new Side(client, upstream, "client fd " + client, arena);
        Side u2c = new Side(upstream, client, "upstream fd " + upstream, arena);
        preload(c2u, toUpstream);
        preload(u2c, toClient);
        MemorySegment pfd = arena.allocate(16, 4);
        boolean virtual = Thread.currentThread().isVirtual();
        while (!(c2u.done() && u2c.done())) {
            boolean progress = step(c2u, u2c) | step(u2c, c2u);
            if (c2u.done() && u2c.done()) {
                break;
            }
            if (System.nanoTime() > deadline) {
                throw new BpfException("splice", "client fd " + client + " and upstream fd " + upstream,
                        Errno.ETIMEDOUT.code(), "the hand-off could not empty both receive queues in time: a peer "
                                + "neither paused sending nor read what it was sent");
            }
            if (!progress) {
                waitForEvents(pfd, c2u, u2c, virtual);
            }
        }
        return new Side[] {c2u, u2c};
    }

    private static void preload(Side s, ByteBuffer b) {
        if (b == null || !b.hasRemaining()) {
            return;
        }
        int n = b.remaining();
        if (n > BUF) {
            // larger than one buffer: copy into a bigger one of its own
            MemorySegment big = Arena.ofAuto().allocate(n);
            MemorySegment.copy(MemorySegment.ofBuffer(b), 0, big, 0, n);
            writeBlocking(s, big);
        } else {
            MemorySegment.copy(MemorySegment.ofBuffer(b), 0, s.buf, 0, n);
            s.off = 0;
            s.len = n;
        }
        b.position(b.limit());
    }

    /** Large pending bytes: written before pumping starts (the other direction waits meanwhile). */
    private static void writeBlocking(Side s, MemorySegment data) {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
        SpliceSockets.writeAll(s.to, data, deadline, s.what + " (bytes read before the splice)");
    }

    /**
     * One round for direction {@code s}: flush what is pending, then read more if the buffer is
     * empty and reading is still needed. True if any byte moved.
     */
    private static boolean step(Side s, Side other) {
        boolean progress = false;
        while (s.pending()) {
            long n = Libc.send(s.to, s.buf.asSlice(s.off, s.len - s.off), Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT);
            if (n == -Errno.EAGAIN.code()) {
                return progress;
            }
            if (n == -Errno.EINTR.code()) {
                continue;
            }
            if (n < 0) {
                throw Errors.of("send", s.what + " (hand-off)", (int) -n, Errors.Op.SOCKET);
            }
            s.off += n;
            progress = true;
        }
        // a clean side is read again only while the other side cannot flush: its peer may be
        // waiting for this side to be read before it reads again (an echo)
        if (s.eof || (s.clean && !other.pending())) {
            return progress;
        }
        long r = Libc.recv(s.from, s.buf, Libc.MSG_DONTWAIT);
        if (r == -Errno.EAGAIN.code()) {
            s.clean = true;
            return progress;
        }
        if (r == -Errno.EINTR.code()) {
            return progress;
        }
        if (r == 0) {
            s.eof = true;
            return true;
        }
        if (r < 0) {
            throw Errors.of("recv", s.what + " (hand-off)", (int) -r, Errors.Op.SOCKET);
        }
        s.clean = false;
        s.off = 0;
        s.len = r;
        s.moved += r;
        return true;
    }

    private static void waitForEvents(MemorySegment pfd, Side c2u, Side u2c, boolean virtual) {
        pfd.set(JAVA_INT, 0, c2u.from);
        pfd.set(JAVA_SHORT, 4, events(c2u, u2c, c2u.from));
        pfd.set(JAVA_SHORT, 6, (short) 0);
        pfd.set(JAVA_INT, 8, u2c.from);
        pfd.set(JAVA_SHORT, 12, events(u2c, c2u, u2c.from));
        pfd.set(JAVA_SHORT, 14, (short) 0);
        if (virtual) {
            if (Libc.poll(pfd, 0) == 0) {
                LockSupport.parkNanos(200_000); // unmounts: the carrier runs other virtual threads
            }
        } else {
            Libc.poll(pfd, 10);
        }
    }

    /** What to wait for on {@code fd}, the source of {@code s} and the destination of {@code other}. */
    private static short events(Side s, Side other, int fd) {
        int ev = 0;
        if (!s.pending() && !s.eof && (!s.clean || other.pending())) {
            ev |= POLLIN;
        }
        if (other.pending()) {
            ev |= Libc.POLLOUT;
        }
        return (short) ev;
    }
}
