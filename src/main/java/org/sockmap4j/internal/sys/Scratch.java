package org.sockmap4j.internal.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.sockmap4j.internal.gen.bpf.bpf_attr;

/**
 * Per-thread native memory reused by every call on that thread, so map operations allocate
 * nothing in steady state. A thread uses its scratch for one call at a time; nothing here may be
 * kept across calls. Memory is freed by the GC when the thread's scratch becomes unreachable.
 */
public final class Scratch {
    /** Largest key or value a socket map operation handles without a fresh allocation. */
    public static final int BUFFER = 512;

    private static final ThreadLocal<Scratch> CURRENT = ThreadLocal.withInitial(Scratch::new);

    public final MemorySegment capture;
    public final MemorySegment attr;
    public final MemorySegment key;
    public final MemorySegment nextKey;
    public final MemorySegment value;
    public final MemorySegment misc;
    /** Native-order views of {@link #key} and {@link #nextKey} for key codecs. */
    public final ByteBuffer keyBuffer;
    public final ByteBuffer nextKeyBuffer;

    private Scratch() {
        Arena arena = Arena.ofAuto();
        capture = arena.allocate(Syscall.captureSize(), 8);
        attr = arena.allocate(bpf_attr.layout());
        key = arena.allocate(BUFFER, 8);
        nextKey = arena.allocate(BUFFER, 8);
        value = arena.allocate(BUFFER, 8);
        misc = arena.allocate(4096, 8);
        keyBuffer = key.asByteBuffer().order(ByteOrder.nativeOrder());
        nextKeyBuffer = nextKey.asByteBuffer().order(ByteOrder.nativeOrder());
    }

    /** This thread's scratch. */
    public static Scratch get() {
        return CURRENT.get();
    }

    /** Clears {@link #attr} and returns it. */
    public MemorySegment attr() {
        attr.fill((byte) 0);
        return attr;
    }
}
