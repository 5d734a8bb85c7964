package org.sockmap4j.recipes;

import java.nio.channels.NetworkChannel;

import org.sockmap4j.AttachType;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Counters;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SkSkbProgram;
import org.sockmap4j.SockMap;
import org.sockmap4j.U32Array;

/**
 * The four redirect modes of the SREcon23 cheatsheet, on one SOCKMAP of 64 slots: every socket
 * {@link #add added} gets the mode's program, and its data goes to the socket in the
 * {@link #target(int) target} slot, which can change at run time.
 *
 * <table>
 * <caption>Modes</caption>
 * <tr><th>mode</th><th>program / hook</th><th>data that moves</th><th>where to</th></tr>
 * <tr><td>{@link Mode#SEND_TO_LOCAL}</td><td>SK_MSG, msg_verdict</td><td>what a TCP source sends</td>
 *     <td>the target's receive queue</td></tr>
 * <tr><td>{@link Mode#SEND_TO_EGRESS}</td><td>SK_MSG, msg_verdict</td><td>what a TCP source sends</td>
 *     <td>out of the target (to its peer)</td></tr>
 * <tr><td>{@link Mode#INGRESS_TO_EGRESS}</td><td>SK_SKB, skb_verdict</td><td>what a source receives</td>
 *     <td>out of the target</td></tr>
 * <tr><td>{@link Mode#INGRESS_TO_LOCAL}</td><td>SK_SKB, skb_verdict</td><td>what a source receives</td>
 *     <td>the target's receive queue</td></tr>
 * </table>
 */
public final class Redirector implements AutoCloseable {
    /** The redirect modes. SK_MSG modes need Linux 4.17+, SK_SKB_VERDICT ones 5.13+. */
    public enum Mode {
        SEND_TO_LOCAL("redir_send_to_local"),
        SEND_TO_EGRESS("redir_send_to_egress"),
        INGRESS_TO_EGRESS("redir_ingress_to_egress"),
        INGRESS_TO_LOCAL("redir_ingress_to_local");

        final String program;

        Mode(String program) {
            this.program = program;
        }
    }

    private final Recipe r = new Recipe();
    private final SockMap map;
    private final U32Array config;
    private final Counters counters;
    private final boolean[] used;

    private Redirector(Mode mode) {
        try {
            BpfObject obj = r.add(BpfObject.openBundled("redirect").load());
            map = r.add(obj.sockMap("sock_map"));
            config = r.add(obj.u32Array("config"));
            counters = r.add(obj.counters("counters"));
            used = new boolean[map.maxEntries()];
            if (mode == Mode.SEND_TO_LOCAL || mode == Mode.SEND_TO_EGRESS) {
                SkMsgProgram p = r.add(obj.skMsg(mode.program));
                r.add(p.attach(map));
            } else {
                SkSkbProgram p = r.add(obj.skSkb(mode.program));
                r.add(p.attach(map, AttachType.SK_SKB_VERDICT));
            }
        } catch (RuntimeException e) {
            r.close();
            throw e;
        }
    }

    /** Loads the bundled redirect object and attaches the program of {@code mode}. */
    public static Redirector create(Mode mode) {
        return new Redirector(mode);
    }

    /** Puts {@code socket} in the first free slot and returns the slot. */
    public synchronized int add(NetworkChannel socket) {
        for (int i = 0; i < used.length; i++) {
            if (!used[i]) {
                map.put(i, socket);
                used[i] = true;
                return i;
            }
        }
        throw new IllegalStateException("all " + used.length + " slots are in use");
    }

    /** Removes the socket in {@code slot} (a closed socket leaves by itself). */
    public synchronized void remove(int slot) {
        map.deleteIfPresent(slot);
        used[slot] = false;
    }

    /** Sends every redirect to the socket in {@code slot} from now on. */
    public void target(int slot) {
        if (slot < 0 || slot >= used.length) {
            throw new IllegalArgumentException("slot must be 0.." + (used.length - 1) + ", got " + slot);
        }
        config.set(0, slot);
    }

    /** Messages and bytes redirected and dropped (target missing or refused) so far. */
    public Counters.Snapshot stats() {
        return counters.snapshot();
    }

    /**
     * Removes every socket this redirector added, then detaches and closes everything. (Sockets
     * keep the program they were inserted with, so they must leave the map for redirects to stop.)
     */
    @Override
    public synchronized void close() {
        try {
            for (int i = 0; i < used.length; i++) {
                if (used[i]) {
                    map.deleteIfPresent(i);
                    used[i] = false;
                }
            }
        } finally {
            r.close();
        }
    }
}
