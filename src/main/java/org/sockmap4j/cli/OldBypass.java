package org.sockmap4j.cli;

import java.util.ArrayDeque;
import java.util.Deque;

import org.sockmap4j.Attachment;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Cgroup;
import org.sockmap4j.ConnectionKey;
import org.sockmap4j.Counters;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockOpsProgram;

/**
 * The talk's original bypass, the bundled object {@code bypass}, as the reference that shows the
 * problem LocalBypass fixes: its sock_ops program puts EVERY established TCP socket of the cgroup
 * in its SOCKHASH, so a socket whose peer is outside the cgroup also sends through the sk_msg
 * path (where the program finds no peer and passes the message to TCP).
 */
final class OldBypass implements AutoCloseable {
    private final Deque<AutoCloseable> opened = new ArrayDeque<>();
    private final SockHash<ConnectionKey> hash;
    private final Counters counters;
    private final Attachment ops;

    private OldBypass(Cgroup cgroup) {
        try {
            BpfObject obj = add(BpfObject.openBundled("bypass").load());
            hash = add(obj.sockHash("sock_hash", ConnectionKey.codec()));
            counters = add(obj.counters("counters"));
            add(add(obj.skMsg("bypass_sk_msg")).attach(hash));
            SockOpsProgram prog = add(obj.sockOps("bypass_sockops"));
            ops = prog.attach(cgroup);
        } catch (RuntimeException e) {
            closeOpened();
            throw e;
        }
    }

    /** Loads the object and attaches it to {@code cgroup}. */
    static OldBypass attach(Cgroup cgroup) {
        return new OldBypass(cgroup);
    }

    private <T extends AutoCloseable> T add(T c) {
        opened.push(c);
        return c;
    }

    /** The program's counters so far (it has no insert counters: -1). */
    BypassCounts counts() {
        Counters.Snapshot s = counters.snapshot();
        return new BypassCounts(s.redirectedMessages(), s.redirectedBytes(), s.passedMessages(), s.passedBytes(),
                -1, -1);
    }

    /** Detaches sock_ops, takes every socket out of the map, then closes the rest in reverse order. */
    @Override
    public void close() {
        try {
            ops.close();
            for (ConnectionKey k : hash.keys()) {
                hash.deleteIfPresent(k);
            }
        } finally {
            closeOpened();
        }
    }

    private void closeOpened() {
        RuntimeException first = null;
        while (!opened.isEmpty()) {
            try {
                opened.pop().close();
            } catch (Exception e) {
                if (first == null) {
                    first = e instanceof RuntimeException re ? re : new IllegalStateException(e);
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
