package org.sockmap4j.recipes;

import java.nio.channels.NetworkChannel;

import org.sockmap4j.AttachType;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Counters;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.LpmTrie;
import org.sockmap4j.SkSkbProgram;
import org.sockmap4j.SockMap;

/**
 * Ingress policy for chosen sockets (SK_SKB verdict: BPF_SK_SKB_VERDICT on Linux 5.13+; before
 * that, from 5.10, the same program at BPF_SK_SKB_STREAM_VERDICT without a parser, which takes
 * TCP sockets only): data received by a socket
 * {@link #add added} here from a denied peer address is dropped before the application sees it;
 * the rest passes. Denied prefixes change at run time. {@link #close()} detaches everything
 * (sockets already added stay policed until they are removed or closed, as the kernel keeps their
 * program).
 */
public final class IngressPolicy implements AutoCloseable {
    private final Recipe r = new Recipe();
    private final SockMap map;
    private final LpmTrie v4;
    private final LpmTrie v6;
    private final Counters counters;
    private int next;

    private IngressPolicy() {
        try {
            BpfObject obj = r.add(BpfObject.openBundled("ingress_policy").load());
            map = r.add(obj.sockMap("sock_map"));
            v4 = r.add(obj.lpmTrie("deny_v4"));
            v6 = r.add(obj.lpmTrie("deny_v6"));
            counters = r.add(obj.counters("counters"));
            SkSkbProgram p = r.add(obj.skSkb("ingress_policy"));
            r.add(p.attach(map, KernelFeatures.probe().has(KernelFeatures.Feature.ATTACH_SK_SKB_VERDICT)
                    ? AttachType.SK_SKB_VERDICT : AttachType.SK_SKB_STREAM_VERDICT));
        } catch (RuntimeException e) {
            r.close();
            throw e;
        }
    }

    /** Loads the bundled ingress_policy object (up to 65,536 sockets). */
    public static IngressPolicy create() {
        return new IngressPolicy();
    }

    /** Polices what {@code socket} receives from now on; returns its slot. */
    public synchronized int add(NetworkChannel socket) {
        int slot = next++;
        map.put(slot, socket);
        return slot;
    }

    /** Stops policing the socket in {@code slot}. */
    public void remove(int slot) {
        map.deleteIfPresent(slot);
    }

    /** Drops data from peers in {@code cidr}. */
    public IngressPolicy deny(String cidr) {
        (cidr.indexOf(':') >= 0 ? v6 : v4).add(cidr);
        return this;
    }

    /** Removes {@code cidr} from the deny list; true if it was there. */
    public boolean allow(String cidr) {
        return (cidr.indexOf(':') >= 0 ? v6 : v4).remove(cidr);
    }

    /** Messages and bytes passed and dropped so far. */
    public Counters.Snapshot stats() {
        return counters.snapshot();
    }

    /** Removes every added socket from the map (ending the policy for them), then detaches everything. */
    @Override
    public void close() {
        try {
            Recipe.clear(map);
        } finally {
            r.close();
        }
    }
}
