package org.sockmap4j.programs;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

import org.sockmap4j.AttachType;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Counters;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SkSkbProgram;
import org.sockmap4j.SockMap;
import org.sockmap4j.U32Array;

/**
 * The bundled {@code redirect} object loaded, with its {@code sock_map}, {@code config} and
 * {@code counters} taken, and the programs a test attaches. {@link #close()} detaches and closes
 * everything (idempotent), programs and attachments first.
 */
final class RedirectFixture implements AutoCloseable {
    final BpfObject obj;
    final SockMap map;
    final U32Array config;
    final Counters counters;
    private final List<AutoCloseable> attached = new ArrayList<>();

    RedirectFixture() {
        BpfObject o = BpfObject.openBundled("redirect").load();
        try {
            map = o.sockMap("sock_map");
            config = o.u32Array("config");
            counters = o.counters("counters");
        } catch (RuntimeException e) {
            o.close();
            throw e;
        }
        obj = o;
    }

    /** Attaches the SK_SKB program {@code name} at {@code type}; detached by {@link #close()}. */
    Attachment skSkb(String name, AttachType type) {
        SkSkbProgram p = obj.skSkb(name);
        attached.add(0, p);
        Attachment a = p.attach(map, type);
        attached.add(0, a);
        return a;
    }

    /** Attaches the SK_MSG program {@code name}; detached by {@link #close()}. */
    Attachment skMsg(String name) {
        SkMsgProgram p = obj.skMsg(name);
        attached.add(0, p);
        Attachment a = p.attach(map);
        attached.add(0, a);
        return a;
    }

    /** Whether {@code condition} became true within {@code millis} (checked every 5 ms). */
    static boolean eventually(BooleanSupplier condition, int millis) {
        long deadline = System.nanoTime() + millis * 1_000_000L;
        while (true) {
            if (condition.getAsBoolean()) {
                return true;
            }
            if (System.nanoTime() > deadline) {
                return false;
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return condition.getAsBoolean();
            }
        }
    }

    @Override
    public void close() {
        List<AutoCloseable> all = new ArrayList<>(attached);
        attached.clear();
        all.addAll(List.of(counters, config, map, obj));
        RuntimeException first = null;
        for (AutoCloseable c : all) {
            try {
                c.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e instanceof RuntimeException r ? r : new IllegalStateException(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
