package org.sockmap4j.recipes;

import org.sockmap4j.BpfObject;
import org.sockmap4j.Cgroup;
import org.sockmap4j.ConnectionKey;
import org.sockmap4j.Counters;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockOpsProgram;

/**
 * Local TCP bypass for a cgroup v2 directory (the talk's container-networking case; SK_MSG +
 * SOCK_OPS + SOCKHASH, Linux 4.18+): once both ends of a TCP connection belong to processes in
 * the cgroup, every message goes straight into the peer's receive queue instead of through the
 * network stack. Messages to peers outside pass normally. Applies to connections established
 * after {@link #attach}. {@link #close()} detaches everything.
 */
public final class LocalBypass implements AutoCloseable {
    private final Recipe r = new Recipe();
    private final SockHash<ConnectionKey> hash;
    private final Counters counters;

    private LocalBypass(Cgroup cgroup) {
        try {
            BpfObject obj = r.add(BpfObject.openBundled("bypass").load());
            hash = r.add(obj.sockHash("sock_hash", ConnectionKey.codec()));
            counters = r.add(obj.counters("counters"));
            SkMsgProgram msg = r.add(obj.skMsg("bypass_sk_msg"));
            SockOpsProgram ops = r.add(obj.sockOps("bypass_sockops"));
            r.add(msg.attach(hash));
            r.add(ops.attach(cgroup));
        } catch (RuntimeException e) {
            r.close();
            throw e;
        }
    }

    /** Loads the bundled bypass object and attaches it to {@code cgroup}. */
    public static LocalBypass attach(Cgroup cgroup) {
        return new LocalBypass(cgroup);
    }

    /** Connections' sockets currently in the bypass map. */
    public int sockets() {
        return hash.keys().size();
    }

    /** Messages and bytes redirected (bypassed) and passed (peer not local) so far. */
    public Counters.Snapshot stats() {
        return counters.snapshot();
    }

    /**
     * Detaches everything and removes every socket from the bypass map, so connections already
     * bypassed go back to the normal stack (a socket keeps the program it was inserted with until it
     * leaves the map).
     */
    @Override
    public void close() {
        try {
            Recipe.clear(hash);
        } finally {
            r.close();
        }
    }
}
