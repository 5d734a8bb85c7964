package org.sockmap4j.recipes;

import org.sockmap4j.Attachment;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Cgroup;
import org.sockmap4j.ConnectionKey;
import org.sockmap4j.Counters;
import org.sockmap4j.LpmTrie;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockOpsProgram;

/**
 * Egress policy for a cgroup v2 directory (SK_MSG + SOCK_OPS, Linux 4.17+): a TCP socket of a
 * process in the cgroup that sends to a denied address gets EACCES from {@code send}. Denied
 * prefixes change at run time with {@link #deny} and {@link #allow}, no re-attach needed. Applies
 * to connections established after {@link #attach}. {@link #close()} detaches everything.
 */
public final class EgressPolicy implements AutoCloseable {
    private final Recipe r = new Recipe();
    private final LpmTrie v4;
    private final LpmTrie v6;
    private final Counters counters;
    private final SockHash<ConnectionKey> hash;

    private EgressPolicy(Cgroup cgroup) {
        try {
            BpfObject obj = r.add(BpfObject.openBundled("egress_policy").load());
            hash = r.add(obj.sockHash("sock_hash", ConnectionKey.codec()));
            v4 = r.add(obj.lpmTrie("deny_v4"));
            v6 = r.add(obj.lpmTrie("deny_v6"));
            counters = r.add(obj.counters("counters"));
            SkMsgProgram msg = r.add(obj.skMsg("egress_policy"));
            SockOpsProgram ops = r.add(obj.sockOps("policy_sockops"));
            r.add(msg.attach(hash));
            Attachment a = ops.attach(cgroup);
            r.add(a);
        } catch (RuntimeException e) {
            r.close();
            throw e;
        }
    }

    /** Loads the bundled egress_policy object and attaches it to {@code cgroup}. */
    public static EgressPolicy attach(Cgroup cgroup) {
        return new EgressPolicy(cgroup);
    }

    /** Denies sends to {@code cidr} ("192.0.2.0/24", "2001:db8::/32" or one address). */
    public EgressPolicy deny(String cidr) {
        trie(cidr).add(cidr);
        return this;
    }

    /** Removes {@code cidr} from the deny list; true if it was there. */
    public boolean allow(String cidr) {
        return trie(cidr).remove(cidr);
    }

    private LpmTrie trie(String cidr) {
        return cidr.indexOf(':') >= 0 ? v6 : v4;
    }

    /** Messages and bytes passed and dropped so far. */
    public Counters.Snapshot stats() {
        return counters.snapshot();
    }

    /** Detaches everything and removes every policed socket from the map, so the policy ends for all. */
    @Override
    public void close() {
        try {
            Recipe.clear(hash);
        } finally {
            r.close();
        }
    }
}
