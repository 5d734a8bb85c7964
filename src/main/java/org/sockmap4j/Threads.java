package org.sockmap4j;

import org.sockmap4j.internal.sys.Scratch;
import org.sockmap4j.internal.sys.Syscall;

/** The kernel's id of the calling thread ({@code gettid(2)}). */
final class Threads {
    private Threads() {}

    private static final long NR_GETTID = "aarch64".equals(System.getProperty("os.arch")) ? 178 : 186;

    static long gettid() {
        return Syscall.call(Scratch.get().capture, NR_GETTID, 0L, 0L, 0L);
    }
}
