package org.sockmap4j;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import org.sockmap4j.internal.sys.Bpf;
import org.sockmap4j.internal.sys.Fd;
import org.sockmap4j.internal.unix.Libc;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * What the running kernel supports of what sockmap4j uses, found by probes (create a map of the
 * type, load a two-instruction program of the type, try the attach or link, insert a socket of the
 * kind), never by parsing the version. Probed once per JVM and cached; each probe creates and
 * closes its own objects. Needs the same privileges as the rest of the library.
 */
public final class KernelFeatures {
    /** A feature, with the kernel version that introduced it. */
    public enum Feature {
        SOCKMAP("BPF_MAP_TYPE_SOCKMAP", "4.14"),
        SOCKHASH("BPF_MAP_TYPE_SOCKHASH", "4.18"),
        SK_MSG("BPF_PROG_TYPE_SK_MSG", "4.17"),
        SK_SKB("BPF_PROG_TYPE_SK_SKB", "4.14"),
        SOCK_OPS("BPF_PROG_TYPE_SOCK_OPS", "4.13"),
        ATTACH_SK_MSG_VERDICT("attach BPF_SK_MSG_VERDICT", "4.17"),
        ATTACH_SK_SKB_STREAM_PARSER("attach BPF_SK_SKB_STREAM_PARSER", "4.14"),
        ATTACH_SK_SKB_STREAM_VERDICT("attach BPF_SK_SKB_STREAM_VERDICT", "4.14"),
        ATTACH_SK_SKB_VERDICT("attach BPF_SK_SKB_VERDICT", "5.13"),
        SOCKMAP_LINK("socket map BPF links", "6.10"),
        CGROUP_LINK("cgroup BPF links", "5.7"),
        PROG_QUERY_SOCKMAP("BPF_PROG_QUERY on socket maps", "5.19"),
        SOCKMAP_ITER("BPF iterators over socket maps (iter/sockmap, a tracing program using bpf_get_socket_cookie)", "5.12"),
        TCP_SOCKETS("TCP sockets in socket maps", "4.14"),
        UDP_SOCKETS("UDP sockets in socket maps", "5.7"),
        UNIX_STREAM_SOCKETS("UNIX stream sockets in socket maps", "5.15"),
        UNIX_DGRAM_SOCKETS("UNIX dgram sockets in socket maps", "5.15"),
        VSOCK_SOCKETS("VSOCK sockets in socket maps (probed with vsock_loopback)", "6.4"),
        BPFFS("a bpffs mount (mount -t bpf bpf /sys/fs/bpf)", "4.4"),
        WRITABLE_CGROUP2("a writable cgroup v2 hierarchy", "4.5");

        private final String description;
        private final String since;

        Feature(String description, String since) {
            this.description = description;
            this.since = since;
        }

        /** What it is, in the kernel's words. */
        public String description() {
            return description;
        }

        /** The first kernel version that has it. */
        public String since() {
            return since;
        }
    }

    /**
     * Start of {@link Status#detail()} when {@link Feature#VSOCK_SOCKETS} could not be probed
     * because the system has no local vsock transport to make a connected pair with.
     */
    public static final String NO_VSOCK_TRANSPORT = "no local vsock transport to probe with";

    /** A probe's answer: present or not, and why not (the errno or condition). */
    public record Status(boolean present, String detail) {}

    private static volatile KernelFeatures cached;

    private final Map<Feature, Status> status;

    private KernelFeatures(Map<Feature, Status> status) {
        this.status = Collections.unmodifiableMap(status);
    }

    /** The probed features of this kernel (probed on first call, then cached). */
    public static KernelFeatures probe() {
        KernelFeatures k = cached;
        if (k == null) {
            synchronized (KernelFeatures.class) {
                k = cached;
                if (k == null) {
                    k = new KernelFeatures(new Probes().run());
                    cached = k;
                }
            }
        }
        return k;
    }

    /** Whether the kernel has {@code f}. */
    public boolean has(Feature f) {
        return status.get(f).present();
    }

    /** Every feature and its status, in declaration order. */
    public Map<Feature, Status> all() {
        return status;
    }

    /**
     * Throws {@link NotSupportedException} naming the feature and the kernel that brings it when
     * the kernel lacks {@code f}.
     */
    public void require(Feature f) {
        NotSupportedException e = lacking(f, "probe", Errno.EOPNOTSUPP.code());
        if (e != null) {
            throw e;
        }
    }

    /**
     * When the kernel lacks {@code f}: the exception that says so for {@code operation}, which
     * failed with {@code errno}; else null. Used on error paths to turn a bare EINVAL from an old
     * kernel into an explained one.
     */
    static NotSupportedException lacking(Feature f, String operation, int errno) {
        Status s = probe().status.get(f);
        if (s.present()) {
            return null;
        }
        return new NotSupportedException(operation, f, errno,
                "needs Linux " + f.since() + "+; " + s.detail());
    }

    /** The probes themselves. */
    private static final class Probes {
        private final Map<Feature, Status> out = new EnumMap<>(Feature.class);
        private final Arena arena = Arena.ofConfined();

        Map<Feature, Status> run() {
            try (arena) {
                int sockmap = map(Feature.SOCKMAP, MapType.SOCKMAP.value(), 4);
                int sockhash = map(Feature.SOCKHASH, MapType.SOCKHASH.value(), 4);
                int skMsg = prog(Feature.SK_MSG, ProgramType.SK_MSG.value(), 0);
                int skSkb = prog(Feature.SK_SKB, ProgramType.SK_SKB.value(), 0);
                int sockOps = prog(Feature.SOCK_OPS, ProgramType.SOCK_OPS.value(), 0);
                try {
                    attaches(sockmap, skMsg, skSkb);
                    sockets(sockmap);
                    cgroupLink(sockOps);
                } finally {
                    for (int fd : new int[] {sockmap, sockhash, skMsg, skSkb, sockOps}) {
                        if (fd >= 0) {
                            Libc.close(fd);
                        }
                    }
                }
                out.put(Feature.BPFFS, bpffs());
                out.put(Feature.SOCKMAP_ITER, sockmapIter());
                return out;
            }
        }

        /** Probe details go into one-row-per-feature tables: the first line, at most 160 chars. */
        static String oneLine(String why) {
            String w = why == null ? "" : why.strip();
            int nl = w.indexOf('\n');
            String first = nl < 0 ? w : w.substring(0, nl).strip() + " ...";
            return first.length() <= 160 ? first : first.substring(0, 157) + "...";
        }

        private static Status result(long r) {
            return r >= 0 ? new Status(true, "") : new Status(false, Errno.of((int) -r).name());
        }

        private static Status missing(String why) {
            return new Status(false, oneLine(why));
        }

        private int map(Feature f, int type, int keySize) {
            long r = Bpf.mapCreate(type, keySize, 8, 2, 0, "sm4j_probe");
            out.put(f, result(r));
            return (int) r;
        }

        private int prog(Feature f, int type, int expected) {
            MemorySegment insns = arena.allocate(16, 8);
            insns.set(JAVA_LONG, 0, 0x00000001_000000b7L); // r0 = 1
            insns.set(JAVA_LONG, 8, 0x00000000_00000095L); // exit
            long r = Bpf.progLoad(type, expected, insns, arena.allocateFrom("GPL"));
            out.put(f, result(r));
            return (int) r;
        }

        private void attaches(int sockmap, int skMsg, int skSkb) {
            attach(Feature.ATTACH_SK_MSG_VERDICT, sockmap, skMsg, AttachType.SK_MSG_VERDICT);
            attach(Feature.ATTACH_SK_SKB_STREAM_PARSER, sockmap, skSkb, AttachType.SK_SKB_STREAM_PARSER);
            attach(Feature.ATTACH_SK_SKB_STREAM_VERDICT, sockmap, skSkb, AttachType.SK_SKB_STREAM_VERDICT);
            attach(Feature.ATTACH_SK_SKB_VERDICT, sockmap, skSkb, AttachType.SK_SKB_VERDICT);
            if (sockmap < 0 || skMsg < 0) {
                out.put(Feature.SOCKMAP_LINK, missing("no sockmap or sk_msg"));
                out.put(Feature.PROG_QUERY_SOCKMAP, missing("no sockmap or sk_msg"));
                return;
            }
            long link = Bpf.linkCreate(skMsg, sockmap, AttachType.SK_MSG_VERDICT.value(), 0);
            out.put(Feature.SOCKMAP_LINK, result(link));
            long q;
            try (Arena a = Arena.ofConfined()) {
                q = Bpf.progQuery(sockmap, AttachType.SK_MSG_VERDICT.value(), 0, a.allocate(64));
            }
            out.put(Feature.PROG_QUERY_SOCKMAP, result(q));
            if (link >= 0) {
                Libc.close((int) link);
            }
        }

        private void attach(Feature f, int map, int prog, AttachType type) {
            if (map < 0 || prog < 0) {
                out.put(f, missing("no socket map or program of the type"));
                return;
            }
            long r = Bpf.progAttach(map, prog, type.value(), 0, 0);
            out.put(f, result(r));
            if (r >= 0) {
                Bpf.progDetach(map, prog, type.value());
            }
        }

        private void sockets(int sockmap) {
            if (sockmap < 0) {
                for (Feature f : List.of(Feature.TCP_SOCKETS, Feature.UDP_SOCKETS, Feature.UNIX_STREAM_SOCKETS,
                        Feature.UNIX_DGRAM_SOCKETS, Feature.VSOCK_SOCKETS)) {
                    out.put(f, missing("no sockmap"));
                }
                return;
            }
            out.put(Feature.TCP_SOCKETS, insert(sockmap, () -> {
                try (var s = java.nio.channels.ServerSocketChannel.open()) {
                    s.bind(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0));
                    return tryInsert(sockmap, org.sockmap4j.internal.unix.ChannelFds.fdOf(s));
                }
            }));
            out.put(Feature.UDP_SOCKETS, insert(sockmap, () -> {
                try (var d = java.nio.channels.DatagramChannel.open()) {
                    d.bind(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0));
                    return tryInsert(sockmap, org.sockmap4j.internal.unix.ChannelFds.fdOf(d));
                }
            }));
            out.put(Feature.UNIX_STREAM_SOCKETS, insert(sockmap, () -> unixPair(sockmap, Libc.SOCK_STREAM)));
            out.put(Feature.UNIX_DGRAM_SOCKETS, insert(sockmap, () -> unixPair(sockmap, Libc.SOCK_DGRAM)));
            out.put(Feature.VSOCK_SOCKETS, vsock(sockmap));
        }

        /**
         * A connected AF_VSOCK pair needs a local transport (vsock_loopback); without one the
         * kernel's support cannot be probed, and the detail says so ("no local vsock transport").
         */
        private static Status vsock(int sockmap) {
            int v = Libc.socket(Libc.AF_VSOCK, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
            if (v < 0) {
                return missing("no AF_VSOCK sockets (" + Errno.of(-v).name() + ")");
            }
            Libc.close(v);
            org.sockmap4j.internal.unix.VsockPair p;
            try {
                p = org.sockmap4j.internal.unix.VsockPair.open(Libc.SOCK_STREAM);
            } catch (org.sockmap4j.internal.unix.VsockPair.Failed e) {
                Errno n = Errno.of(e.errno());
                return missing(NO_VSOCK_TRANSPORT + " (load vsock_loopback): " + e.getMessage()
                        + (n == Errno.UNKNOWN ? "" : " (" + n.name() + ")"));
            }
            try {
                return result(tryInsert(sockmap, p.server()));
            } finally {
                Libc.close(p.client());
                Libc.close(p.server());
            }
        }

        private interface Io {
            long get() throws IOException;
        }

        private static Status insert(int sockmap, Io attempt) {
            try {
                return result(attempt.get());
            } catch (IOException | RuntimeException e) {
                return missing("cannot make a socket: " + e.getMessage());
            }
        }

        private static long tryInsert(int sockmap, int fd) {
            org.sockmap4j.internal.sys.Scratch s = org.sockmap4j.internal.sys.Scratch.get();
            s.key.set(java.lang.foreign.ValueLayout.JAVA_INT, 0, 0);
            s.value.set(JAVA_LONG, 0, fd);
            long r = Bpf.mapUpdate(s, sockmap, 0);
            if (r >= 0) {
                Bpf.mapDelete(s, sockmap);
            }
            return r;
        }

        private long unixPair(int sockmap, int type) {
            MemorySegment fds = arena.allocate(8, 4);
            int r = Libc.socketpair(Libc.AF_UNIX, type | Libc.SOCK_CLOEXEC, 0, fds);
            if (r < 0) {
                return r;
            }
            int a = fds.get(java.lang.foreign.ValueLayout.JAVA_INT, 0);
            int b = fds.get(java.lang.foreign.ValueLayout.JAVA_INT, 4);
            try {
                return tryInsert(sockmap, a);
            } finally {
                Libc.close(a);
                Libc.close(b);
            }
        }

        private void cgroupLink(int sockOps) {
            Path dir = Cgroups.writableCgroup2();
            out.put(Feature.WRITABLE_CGROUP2, dir == null ? missing("no writable cgroup2 mount found")
                    : new Status(true, dir.toString()));
            if (dir == null || sockOps < 0) {
                out.put(Feature.CGROUP_LINK, missing(dir == null ? "no writable cgroup2 to probe in" : "no sock_ops"));
                return;
            }
            Path probe = dir.resolve("sockmap4j-probe-" + ProcessHandle.current().pid());
            try {
                Files.createDirectory(probe);
                int fd;
                try (Arena a = Arena.ofConfined()) {
                    fd = Libc.open(a.allocateFrom(probe.toString()), Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
                }
                if (fd < 0) {
                    out.put(Feature.CGROUP_LINK, missing("cannot open " + probe));
                    return;
                }
                try (Fd cg = Fd.own(fd, "probe cgroup")) {
                    long link = Bpf.linkCreate(sockOps, cg.get(), AttachType.CGROUP_SOCK_OPS.value(), 0);
                    out.put(Feature.CGROUP_LINK, result(link));
                    if (link >= 0) {
                        Libc.close((int) link);
                    }
                }
            } catch (IOException e) {
                out.put(Feature.CGROUP_LINK, missing("cannot create " + probe + ": " + e.getMessage()));
            } finally {
                try {
                    Files.deleteIfExists(probe);
                } catch (IOException ignored) {
                    // best effort: an empty cgroup dir
                }
            }
        }

        /**
         * Loads the bundled iterator object (through libbpf: a tracing program needs the kernel's
         * BTF id of its target). A kernel that has iterators may still refuse tracing programs by
         * policy (lockdown, an LSM): EPERM as root is reported as that.
         */
        private static Status sockmapIter() {
            try (BpfObject o = BpfObject.openBundled("sockmap_iter")) {
                o.load();
                return new Status(true, "");
            } catch (PermissionException e) {
                return missing("EPERM: loading tracing programs is refused here" + lockdown());
            } catch (BpfException | IllegalStateException | UnsatisfiedLinkError e) {
                return missing(e.getMessage());
            }
        }

        private static String lockdown() {
            try {
                String l = Files.readString(Path.of("/sys/kernel/security/lockdown")).strip();
                int a = l.indexOf('[');
                int b = l.indexOf(']');
                return " (kernel lockdown: " + (a >= 0 && b > a ? l.substring(a + 1, b) : l) + ")";
            } catch (IOException | RuntimeException e) {
                return " (by kernel lockdown or an LSM)";
            }
        }

        private static Status bpffs() {
            Path p = Cgroups.mountOf("bpf");
            return p == null ? missing("not mounted; mount -t bpf bpf /sys/fs/bpf") : new Status(true, p.toString());
        }
    }
}
