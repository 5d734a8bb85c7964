package org.sockmap4j.recipes;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

import org.sockmap4j.BpfObject;
import org.sockmap4j.Cgroup;
import org.sockmap4j.Cidr;
import org.sockmap4j.ConnectionKey;
import org.sockmap4j.Counters;
import org.sockmap4j.LpmTrie;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockOpsProgram;
import org.sockmap4j.U32Array;

/**
 * Local TCP bypass for cgroup v2 directories (the talk's container-networking case; SK_MSG +
 * SOCK_OPS + SOCKHASH, Linux 4.18+): a TCP connection whose two ends belong to processes in the
 * bypassed cgroups (the same one or different ones, in any network namespaces) has every message
 * moved straight into the peer socket's receive queue instead of through the network stack.
 *
 * <p>Only such connections are touched. A socket whose peer is anything else (another host, a
 * local process outside the cgroups, a connection out of {@link BypassScope scope}) never enters
 * the socket map, so its sends stay on TCP's own path from the first byte: a socket in a socket
 * map sends through the sk_msg path even when its program lets the data pass, which cost a bulk
 * flow about 40% of its throughput here. The bundled {@code local_bypass} object learns which
 * peers are local during the handshake: a bypassed listener records the SYN, the client is
 * inserted on the SYN-ACK only if recorded, the server socket on the ACK only if its client was.
 * Hence it applies to connections established after {@link #attach}, listeners may be older.
 *
 * <p>IPv4, IPv6 and v4-mapped IPv6 (the JDK's dual-stack sockets) are bypassed; a dual-stack
 * socket and an IPv4-only peer are matched. Not bypassed: TCP Fast Open connections.
 *
 * <p>A socket that sends while its peer is not in the map (a client whose first bytes leave before
 * the server socket exists: always with a {@code TCP_DEFER_ACCEPT} listener, now and then on a slow
 * machine; or a peer that closed) has that message go through TCP and then sends every later one
 * through TCP too ({@link Stats#socketsFellBack()}): a receiver reads redirected bytes before its
 * TCP receive queue, so a later redirected message would overtake the earlier one.
 *
 * <pre>{@code
 * try (LocalBypass b = LocalBypass.builder().cgroup(frontend).cgroup(backend)
 *         .scope(BypassScope.all().ports("6379,8000-8100")).attach()) {
 *     ...
 *     b.scope(BypassScope.all());          // live, no re-attach
 *     System.out.println(b.stats());
 * }
 * }</pre>
 *
 * <p>{@link #close()} returns every socket to the normal path: it detaches the SOCK_OPS program,
 * stops redirecting (new sends go through TCP, behind the redirected bytes the peer has not read
 * yet), waits {@link Builder#drainGrace} for readers, then removes the sockets from the map.
 * Bytes redirected to a socket whose reader has still not taken them then are lost: the kernel
 * frees a socket's redirect queue when the socket leaves the map (measured on 6.18).
 */
public final class LocalBypass implements AutoCloseable {
    private static final int SCOPE_FLAGS = 0;
    private static final int SCOPE_DRAIN = 1;
    private static final int FLAG_PORTS = 1;
    private static final int FLAG_CIDRS = 2;
    private static final int FLAG_UPDATING = 4;
    private static final int ST_INSERTED = 0;
    private static final int ST_NOT_LOCAL = 1;
    private static final int ST_OUT_OF_SCOPE = 2;
    private static final int ST_FELL_BACK = 3;

    private final Recipe r = new Recipe();
    private final Recipe opsAttachments = new Recipe(); // closed first, apart from the rest
    private final Duration drainGrace;
    private SockHash<ConnectionKey> hash;
    private Counters counters;
    private Counters connStats;
    private U32Array scopeFlags;
    private U32Array ports;
    private LpmTrie allowV4;
    private LpmTrie allowV6;
    private BypassScope scope = BypassScope.all();
    private int[] portWords = new int[65536 / 32];
    private boolean closed;

    /**
     * What the bypass did so far: the sockets in it now, messages and bytes redirected to a local
     * peer or passed to TCP, sockets put in and sockets left alone because their peer is not a
     * bypassed socket, SYNs out of scope, and sockets that fell back to TCP for their sends: a
     * message found its peer not in the map (a client that sent before its server socket existed,
     * e.g. with TCP_DEFER_ACCEPT; or a peer that closed), so this socket keeps sending through TCP
     * to keep its bytes in order.
     */
    public record Stats(int sockets, long redirectedMessages, long redirectedBytes, long passedMessages,
            long passedBytes, long socketsInserted, long socketsNotLocal, long synsOutOfScope,
            long socketsFellBack) {}

    private LocalBypass(Builder b) {
        this.drainGrace = b.drainGrace;
        try {
            BpfObject obj = r.add(BpfObject.openBundled("local_bypass").load());
            hash = r.add(obj.sockHash("sock_hash", ConnectionKey.codec()));
            counters = r.add(obj.counters("counters"));
            connStats = r.add(obj.counters("conn_stats"));
            scopeFlags = r.add(obj.u32Array("scope"));
            ports = r.add(obj.u32Array("ports"));
            allowV4 = r.add(obj.lpmTrie("allow_v4"));
            allowV6 = r.add(obj.lpmTrie("allow_v6"));
            applyScope(b.scope);
            SkMsgProgram msg = r.add(obj.skMsg("lbypass_sk_msg"));
            SockOpsProgram ops = r.add(obj.sockOps("lbypass_sockops"));
            r.add(msg.attach(hash)); // before any socket can enter the map
            for (Cgroup cg : b.cgroups) {
                opsAttachments.add(ops.attach(cg));
            }
        } catch (RuntimeException e) {
            opsAttachments.close();
            r.close();
            throw e;
        }
    }

    /** Loads the bundled {@code local_bypass} object and attaches it to {@code cgroup}, every connection in scope. */
    public static LocalBypass attach(Cgroup cgroup) {
        return builder().cgroup(cgroup).attach();
    }

    /** A bypass for one or more cgroups. */
    public static Builder builder() {
        return new Builder();
    }

    /** Builds a {@link LocalBypass}. */
    public static final class Builder {
        private final List<Cgroup> cgroups = new ArrayList<>();
        private BypassScope scope = BypassScope.all();
        private Duration drainGrace = Duration.ofMillis(50);

        private Builder() {}

        /**
         * Adds a cgroup v2 directory: its processes, and those of its descendants (cgroup BPF
         * programs are inherited), are bypassed between each other and with every other cgroup
         * added. A cgroup inside one already added is refused: the program would run twice.
         */
        public Builder cgroup(Cgroup cgroup) {
            Objects.requireNonNull(cgroup, "cgroup");
            Path p = cgroup.path().toAbsolutePath().normalize();
            for (Cgroup c : cgroups) {
                Path q = c.path().toAbsolutePath().normalize();
                if (p.startsWith(q) || q.startsWith(p)) {
                    throw new IllegalArgumentException("cgroup " + p + (p.equals(q) ? " is already added"
                            : " and " + q + " are nested: the one above covers the one below (cgroup programs "
                            + "are inherited); add only the outer one"));
                }
            }
            cgroups.add(cgroup);
            return this;
        }

        /** Which connections may be bypassed (default {@link BypassScope#all()}); changeable later. */
        public Builder scope(BypassScope scope) {
            this.scope = Objects.requireNonNull(scope, "scope");
            return this;
        }

        /**
         * How long {@link LocalBypass#close()} waits, after it stops redirecting, for readers to take
         * the bytes already redirected to them before the sockets leave the map (default 50 ms).
         */
        public Builder drainGrace(Duration grace) {
            if (grace.isNegative()) {
                throw new IllegalArgumentException("drain grace must not be negative: " + grace);
            }
            this.drainGrace = grace;
            return this;
        }

        /** Loads the bundled {@code local_bypass} object and attaches it to every cgroup added. */
        public LocalBypass attach() {
            if (cgroups.isEmpty()) {
                throw new IllegalStateException("no cgroup: add at least one with cgroup(...)");
            }
            return new LocalBypass(this);
        }
    }

    /**
     * Changes the scope for connections established from now on, without re-attaching. Connections
     * already bypassed stay bypassed until they close: taking a socket out of the map while its
     * peer's redirected bytes wait unread would lose them.
     */
    public synchronized LocalBypass scope(BypassScope next) {
        Objects.requireNonNull(next, "scope");
        checkOpen();
        applyScope(next);
        return this;
    }

    /** The scope in force. */
    public synchronized BypassScope scope() {
        return scope;
    }

    private void applyScope(BypassScope next) {
        int flags = (next.restrictsPorts() ? FLAG_PORTS : 0) | (next.cidrs().isEmpty() ? 0 : FLAG_CIDRS);
        // while the tables change, no new connection is in scope (it simply takes the normal path)
        scopeFlags.set(SCOPE_FLAGS, FLAG_UPDATING);
        int[] words = next.portWords();
        for (int i = 0; i < words.length; i++) {
            if (words[i] != portWords[i]) {
                ports.set(i, words[i]);
                portWords[i] = words[i];
            }
        }
        Set<Cidr> old = new LinkedHashSet<>(scope.cidrs());
        for (Cidr c : next.cidrs()) {
            if (!old.remove(c)) {
                trie(c).add(c.toString());
            }
        }
        for (Cidr c : old) {
            trie(c).remove(c.toString());
        }
        scope = next;
        scopeFlags.set(SCOPE_FLAGS, flags);
    }

    private LpmTrie trie(Cidr c) {
        return c.isIpv4() ? allowV4 : allowV6;
    }

    /** Sockets now in the bypass (both ends of each bypassed connection). */
    public synchronized int sockets() {
        checkOpen();
        return hash.keys().size();
    }

    /**
     * The keys of the sockets now in the bypass: each socket's own 4-tuple (local = its address),
     * v4-mapped addresses unmapped (an AF_INET key for a dual-stack socket talking IPv4).
     */
    public synchronized List<ConnectionKey> keys() {
        checkOpen();
        return hash.keys();
    }

    /** A reading of the programs' counters and of the map. */
    public synchronized Stats stats() {
        checkOpen();
        Counters.Snapshot s = counters.snapshot();
        return new Stats(hash.keys().size(), s.redirectedMessages(), s.redirectedBytes(), s.passedMessages(),
                s.passedBytes(), connStats.get(ST_INSERTED), connStats.get(ST_NOT_LOCAL),
                connStats.get(ST_OUT_OF_SCOPE), connStats.get(ST_FELL_BACK));
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("LocalBypass is closed");
        }
    }

    /**
     * Stops the bypass and returns every socket to the normal path (see the class comment for the
     * order). Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            opsAttachments.close(); // no socket enters the map any more
            scopeFlags.set(SCOPE_DRAIN, 1); // new sends go through TCP
            if (!drainGrace.isZero()) {
                try {
                    Thread.sleep(drainGrace);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            Recipe.clear(hash);
        } finally {
            r.close();
        }
    }
}
