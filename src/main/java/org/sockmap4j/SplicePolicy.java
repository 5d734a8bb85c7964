package org.sockmap4j;

import java.time.Duration;
import java.util.Objects;

/**
 * When a {@link Splicer} moves a pair from its user-space relay into the kernel (SK_SKB verdict
 * redirect, Linux 5.13+ for skb_verdict framing, 4.14+ with a stream parser).
 *
 * <p>Splicing has a fixed cost per connection (two psocks created and torn down, six map
 * updates, the end of stream passed on by the watcher once the redirect backlog drained) and
 * pays off only for connections that live long or move many bytes. Like HAProxy's
 * {@code option splice-auto}, {@link #auto()} relays a new pair in user space (the
 * Splicer's watcher thread, non-blocking, one copy through a 64 KiB buffer) and splices it once
 * it has moved {@link #bytes()} bytes (both directions together) or lived {@link #age()}, whichever
 * comes first; the switch happens when both receive queues have been read to empty and every
 * relayed byte has been written, so no byte is lost, repeated or reordered. A pair one of whose
 * sides has sent FIN stays relayed to its end. {@link #always()}, the default, splices at once.
 *
 * @param bytes relayed bytes after which the pair is spliced (0: at once)
 * @param age   time after {@code splice()} at which the pair is spliced ({@link Duration#ZERO}: at once)
 */
public record SplicePolicy(long bytes, Duration age) {
    private static final SplicePolicy ALWAYS = new SplicePolicy(0, Duration.ZERO);
    private static final SplicePolicy AUTO = new SplicePolicy(64 * 1024, Duration.ofMillis(100));

    /** Checks the arguments. */
    public SplicePolicy {
        Objects.requireNonNull(age, "age");
        if (bytes < 0) {
            throw new IllegalArgumentException("bytes must be >= 0, got " + bytes);
        }
        if (age.isNegative()) {
            throw new IllegalArgumentException("age must be >= 0, got " + age);
        }
    }

    /** Splice at once: every byte after {@code splice()} goes through the kernel. */
    public static SplicePolicy always() {
        return ALWAYS;
    }

    /**
     * Relay in user space, splice after 64 KiB or 100 ms: short exchanges (an HTTP/1 request and
     * its answer, a health check, an RPC on a fresh connection) end before either and never pay
     * for the splice; bulk transfers and long-lived connections are spliced early.
     *
     * <p>Measured (docs/performance.md, {@code sockmap bench proxy}, 2 vCPUs): short connections
     * through the CLI proxy at about 1.7 times the rate of {@link #always()}, connect-to-EOF median
     * like HAProxy's; under bulk echo load more of the bytes cross the relay before both queues
     * are clean at once, so proxy CPU per GiB is higher than always's (tenths of a second against
     * hundredths) and bulk throughput 10-25% lower. The repeated bytes once seen under echo load
     * (a kernel reader taking a retransmitted segment whole) are stopped by
     * {@link Splicer.Builder#receiveBuffer}, which is on by default: 0 of 120 rounds.
     */
    public static SplicePolicy auto() {
        return AUTO;
    }

    /** Splice after {@code bytes} relayed bytes or {@code age}, whichever comes first. */
    public static SplicePolicy after(long bytes, Duration age) {
        return new SplicePolicy(bytes, age);
    }

    /** True if pairs are spliced as soon as they are handed over. */
    public boolean immediate() {
        return bytes == 0 || age.isZero();
    }
}
