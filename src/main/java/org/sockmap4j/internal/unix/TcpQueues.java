package org.sockmap4j.internal.unix;

import java.lang.foreign.MemorySegment;

import org.sockmap4j.internal.sys.Scratch;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * How many bytes have been handed to a TCP socket for sending, in total: bytes the peer acked
 * ({@code tcp_info.tcpi_bytes_acked}, Linux 4.1+) plus bytes still in the send queue
 * ({@code SIOCOUTQ}). A Splicer compares it with what the verdict redirected to know when a
 * socket's redirect backlog has drained.
 */
public final class TcpQueues {
    private TcpQueues() {}

    /** Offset of tcpi_bytes_acked in struct tcp_info (stable ABI since 4.1). */
    private static final long BYTES_ACKED = 120;
    /** Offset of tcpi_bytes_received (since 4.1): data bytes TCP received in order. */
    private static final long BYTES_RECEIVED = 128;
    private static final int TCP_INFO_LEN = 232;

    /**
     * The {@code tcp_info} field at {@code offset}, a u64, or -1 if the socket cannot say
     * (closed, not TCP, or a kernel whose tcp_info ends before it). Read into the thread's scratch.
     */
    private static long tcpInfoU64(int fd, long offset) {
        MemorySegment m = Scratch.get().misc;
        MemorySegment info = m.asSlice(2560, TCP_INFO_LEN);
        MemorySegment len = m.asSlice(2560 + 256, 4);
        len.set(JAVA_INT, 0, TCP_INFO_LEN);
        if (Libc.getsockopt(fd, Libc.IPPROTO_TCP, Libc.TCP_INFO, info, len) < 0
                || len.get(JAVA_INT, 0) < offset + 8) {
            return -1;
        }
        return info.get(JAVA_LONG, offset);
    }

    /** Bytes acked plus bytes queued, or -1 if the socket cannot say (closed, not TCP). */
    public static long handedToTcp(int fd) {
        long acked = tcpInfoU64(fd, BYTES_ACKED);
        if (acked < 0) {
            return -1;
        }
        MemorySegment outq = Scratch.get().misc.asSlice(2560 + 264, 4);
        if (Libc.ioctl(fd, Libc.SIOCOUTQ, outq) < 0) {
            return -1;
        }
        return acked + outq.get(JAVA_INT, 0);
    }

    /**
     * Bytes TCP has received on the socket in order ({@code tcp_info.tcpi_bytes_received},
     * Linux 4.1+), read by anyone or not, plus one for a FIN received (the sequence number it
     * takes), or -1 if the socket cannot say. A Splicer compares it with what the verdict
     * redirected to know whether the psock (a stream parser on its workqueue, say) still holds
     * bytes of a side whose FIN already arrived.
     */
    public static long receivedByTcp(int fd) {
        return tcpInfoU64(fd, BYTES_RECEIVED);
    }
}
