package org.sockmap4j;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

import org.sockmap4j.internal.sys.Bpf;
import org.sockmap4j.internal.sys.Fd;
import org.sockmap4j.internal.unix.Libc;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A BPF iterator over a socket map ({@code SEC("iter/sockmap")}, a {@code BPF_PROG_TYPE_TRACING}
 * program; Linux 5.10+). It runs once per element of the map it is given, in kernel context, and
 * can for example copy every socket into another map (the bundled {@code sockmap_iter} object)
 * keeping the sockets' cookies.
 */
public final class SockMapIterProgram extends Program {
    SockMapIterProgram(Fd fd, String name) {
        super(fd, name);
    }

    @Override
    public ProgramType type() {
        return ProgramType.TRACING;
    }

    /**
     * Runs the iterator over {@code map} to the end ({@code BPF_LINK_CREATE} with
     * {@code BPF_TRACE_ITER}, {@code BPF_ITER_CREATE}, then {@code read} until EOF) and returns
     * what the program printed ({@code bpf_seq_printf}).
     */
    public String run(SocketMap<?> map) {
        long link;
        int prog = fd.acquire();
        try {
            int mapFd = map.fd.acquire();
            try {
                link = Bpf.iterLinkCreate(prog, mapFd);
            } finally {
                map.fd.release();
            }
        } finally {
            fd.release();
        }
        if (link < 0) {
            throw Errors.of("BPF_LINK_CREATE(BPF_TRACE_ITER)", describe() + " over " + map.describe(), (int) -link,
                    Errors.Op.ATTACH);
        }
        try (Fd l = Fd.own((int) link, "iterator link of " + describe())) {
            long it = Bpf.iterCreate(l.get());
            if (it < 0) {
                throw Errors.of("BPF_ITER_CREATE", describe(), (int) -it, Errors.Op.ATTACH);
            }
            try (Fd in = Fd.own((int) it, "iterator of " + describe()); Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(8192);
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                while (true) {
                    long n = Libc.read(in.get(), buf);
                    if (n == -Errno.EINTR.code() || n == -Errno.EAGAIN.code()) {
                        continue;
                    }
                    if (n < 0) {
                        throw Errors.of("read(iterator)", describe(), (int) -n, Errors.Op.GENERIC);
                    }
                    if (n == 0) {
                        return out.toString(StandardCharsets.UTF_8);
                    }
                    out.write(buf.asSlice(0, n).toArray(JAVA_BYTE), 0, (int) n);
                }
            }
        }
    }
}
