package org.sockmap4j;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.sockmap4j.internal.unix.Libc;

/**
 * Shared fixtures of the privileged map tests: the two map kinds behind one {@code Integer}-keyed
 * API, loopback TCP and UNIX stream connections, and a few raw socket calls the JDK does not
 * offer (listen and connect(AF_UNSPEC) on a raw fd, dup3), made through FFM.
 */
final class MapTestSupport {
    private MapTestSupport() {}

    static final InetAddress LOOPBACK4 = address("127.0.0.1");
    static final InetAddress LOOPBACK6 = address("::1");

    private static InetAddress address(String literal) {
        try {
            return InetAddress.getByName(literal); // a literal: no name lookup
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---- the two map kinds ----

    /** SOCKMAP or SOCKHASH (u32 keys), with what the kernel answers to a delete of an empty key. */
    enum Kind {
        SOCKMAP(MapType.SOCKMAP, Errno.EINVAL) {
            @Override
            SocketMap<Integer> create(String name, int maxEntries, int valueSize) {
                return SockMap.builder().name(name).maxEntries(maxEntries).valueSize(valueSize).create();
            }

            @Override
            SocketMap<Integer> openPinned(Path path) {
                return SockMap.openPinned(path);
            }
        },
        SOCKHASH(MapType.SOCKHASH, Errno.ENOENT) {
            @Override
            SocketMap<Integer> create(String name, int maxEntries, int valueSize) {
                return SockHash.builder(KeyCodec.u32()).name(name).maxEntries(maxEntries).valueSize(valueSize)
                        .create();
            }

            @Override
            SocketMap<Integer> openPinned(Path path) {
                return SockHash.openPinned(path, KeyCodec.u32());
            }
        };

        final MapType type;
        /** errno of BPF_MAP_DELETE_ELEM on a key that holds no socket (re-derived on 6.18). */
        final Errno deleteEmpty;
        /** The exception class that errno becomes. */
        final Class<? extends BpfException> deleteEmptyType;

        Kind(MapType type, Errno deleteEmpty) {
            this.type = type;
            this.deleteEmpty = deleteEmpty;
            this.deleteEmptyType = deleteEmpty == Errno.ENOENT ? KeyNotFoundException.class : BpfException.class;
        }

        /** The other kind. */
        Kind other() {
            return this == SOCKMAP ? SOCKHASH : SOCKMAP;
        }

        abstract SocketMap<Integer> create(String name, int maxEntries, int valueSize);

        abstract SocketMap<Integer> openPinned(Path path);

        SocketMap<Integer> create(int maxEntries) {
            return create("", maxEntries, 8);
        }
    }

    /**
     * Asserts that {@code call} fails with exactly the exception class {@code type} (a subclass
     * does not count) carrying the kernel's {@code errno}, naming the operation and the object,
     * with a hint (the bad-input contract, docs/bad-input.md).
     */
    static void assertKernelError(ThrowingCallable call, Class<? extends BpfException> type, Errno errno) {
        assertThatThrownBy(call).isExactlyInstanceOf(type).satisfies(t -> {
            BpfException e = (BpfException) t;
            assertThat(e.errno()).isEqualTo(errno);
            assertThat(e.errnoCode()).isEqualTo(errno.code());
            assertThat(e.operation()).isNotBlank();
            assertThat(e.object()).isNotBlank();
            assertThat(e.hint()).as("hint of %s", e).isNotBlank();
            assertThat(e.getMessage()).startsWith(e.operation() + " on " + e.object() + ": " + errno.name())
                    .endsWith("(" + e.hint() + ")");
        });
    }

    /** The map's entries as key -> cookie. */
    static <K> Map<K, Long> entryMap(SocketMap<K> map) {
        Map<K, Long> out = new HashMap<>();
        for (SocketMap.Entry<K> e : map.entries()) {
            out.put(e.key(), e.cookie());
        }
        return out;
    }

    /** The cookies of all entries. */
    static List<Long> cookies(SocketMap<?> map) {
        return map.entries().stream().map(SocketMap.Entry::cookie).toList();
    }

    /** What {@code /proc/self/fdinfo/<fd>} says about a BPF object fd, field -> value. */
    static Map<String, String> fdinfo(int fd) {
        Map<String, String> out = new HashMap<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd))) {
                int colon = line.indexOf(':');
                if (colon > 0) {
                    out.put(line.substring(0, colon).trim(), line.substring(colon + 1).trim());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    // ---- connections ----

    /** A loopback TCP connection and its listener. */
    record Tcp(ServerSocketChannel listener, SocketChannel client, SocketChannel server) implements AutoCloseable {
        static Tcp open(InetAddress loopback) throws IOException {
            ProtocolFamily family = loopback.getAddress().length == 4 ? StandardProtocolFamily.INET
                    : StandardProtocolFamily.INET6;
            ServerSocketChannel listener = ServerSocketChannel.open(family);
            SocketChannel client = null;
            try {
                listener.bind(new InetSocketAddress(loopback, 0));
                client = SocketChannel.open(family);
                client.connect(listener.getLocalAddress());
                return new Tcp(listener, client, listener.accept());
            } catch (IOException | RuntimeException e) {
                closeAll(e, client, listener);
                throw e;
            }
        }

        static Tcp open() throws IOException {
            return open(LOOPBACK4);
        }

        @Override
        public void close() throws IOException {
            closeAll(null, client, server, listener);
        }
    }

    /** A connected UNIX stream pair and its listener, bound in a private temporary directory. */
    record Unix(Path dir, ServerSocketChannel listener, SocketChannel client, SocketChannel server)
            implements AutoCloseable {
        static Unix open() throws IOException {
            Path dir = Files.createTempDirectory(Path.of("/tmp"), "sm4j");
            ServerSocketChannel listener = null;
            SocketChannel client = null;
            try {
                listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
                listener.bind(UnixDomainSocketAddress.of(dir.resolve("s")));
                client = SocketChannel.open(StandardProtocolFamily.UNIX);
                client.connect(listener.getLocalAddress());
                return new Unix(dir, listener, client, listener.accept());
            } catch (IOException | RuntimeException e) {
                closeAll(e, client, listener);
                deleteQuietly(dir);
                throw e;
            }
        }

        @Override
        public void close() throws IOException {
            try {
                closeAll(null, client, server, listener);
            } finally {
                deleteQuietly(dir);
            }
        }
    }

    private static void deleteQuietly(Path dir) {
        try {
            Files.deleteIfExists(dir.resolve("s"));
            Files.deleteIfExists(dir);
        } catch (IOException ignored) {
            // a temp dir left behind is not worth failing a test for
        }
    }

    /** Closes every non-null resource; the first failure is thrown (or added to {@code primary}). */
    static void closeAll(Throwable primary, AutoCloseable... resources) throws IOException {
        Throwable first = primary;
        for (AutoCloseable r : resources) {
            if (r == null) {
                continue;
            }
            try {
                r.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (primary == null && first != null) {
            if (first instanceof IOException io) {
                throw io;
            }
            throw new IOException(first);
        }
    }

    // ---- raw sockets ----

    /** A socket fd made with {@link Libc#socket}; {@link #close()} closes it once. */
    static final class RawSocket implements AutoCloseable {
        private int fd;

        private RawSocket(int fd) {
            this.fd = fd;
        }

        /** A new close-on-exec socket; {@link RawCallException} with the errno if socket() fails. */
        static RawSocket open(int domain, int type) {
            int r = Libc.socket(domain, type | Libc.SOCK_CLOEXEC, 0);
            if (r < 0) {
                throw new RawCallException("socket", -r);
            }
            return new RawSocket(r);
        }

        int fd() {
            return fd;
        }

        @Override
        public void close() {
            if (fd >= 0) {
                Libc.close(fd);
                fd = -1;
            }
        }
    }

    /** A raw socket call failed; carries the errno. */
    static final class RawCallException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int errno;

        RawCallException(String call, int errno) {
            super(call + " failed with errno " + errno);
            this.errno = errno;
        }
    }

    private static final Linker LINKER = Linker.nativeLinker();
    private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
    private static final VarHandle ERRNO_VH = Linker.Option.captureStateLayout()
            .varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle BIND = downcall("bind", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
    private static final MethodHandle LISTEN = downcall("listen", JAVA_INT, JAVA_INT, JAVA_INT);
    private static final MethodHandle CONNECT = downcall("connect", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
    private static final MethodHandle DUP3 = downcall("dup3", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
    private static final int O_CLOEXEC = 0x80000;

    @SuppressWarnings("restricted") // tests run with --enable-native-access
    private static MethodHandle downcall(String name, ValueLayout result, ValueLayout... args) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(),
                FunctionDescriptor.of(result, args), ERRNO);
    }

    /** Result, or -errno. */
    private static int call(MethodHandle h, MemorySegment capture, Object... args) {
        Object[] all = new Object[args.length + 1];
        all[0] = capture;
        System.arraycopy(args, 0, all, 1, args.length);
        try {
            int r = (int) h.invokeWithArguments(all);
            return r < 0 ? -(int) ERRNO_VH.get(capture, 0L) : r;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * A 16-byte sockaddr_in for 127.0.0.1:0 (family in host order, address bytes in network
     * order, port 0), or a zeroed sockaddr, whose family is AF_UNSPEC.
     */
    private static MemorySegment sockaddr(Arena arena, boolean unspec) {
        MemorySegment sa = arena.allocate(16, 4);
        if (!unspec) {
            sa.set(JAVA_SHORT, 0, (short) Libc.AF_INET);
            sa.set(JAVA_BYTE, 4, (byte) 127);
            sa.set(JAVA_BYTE, 7, (byte) 1);
        }
        return sa;
    }

    /** bind(fd, 127.0.0.1:0); 0 or -errno. */
    static int bindLoopback4(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(Linker.Option.captureStateLayout());
            return call(BIND, capture, fd, sockaddr(arena, false), 16);
        }
    }

    /** listen(fd, backlog); 0 or -errno. */
    static int listen(int fd, int backlog) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(Linker.Option.captureStateLayout());
            return call(LISTEN, capture, fd, backlog);
        }
    }

    /** connect(fd, {AF_UNSPEC}): disconnects a TCP socket, a listener included; 0 or -errno. */
    static int disconnect(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(Linker.Option.captureStateLayout());
            return call(CONNECT, capture, fd, sockaddr(arena, true), 16);
        }
    }

    /** dup3(from, to, O_CLOEXEC): atomically makes {@code to} refer to what {@code from} does. */
    static int dup3(int from, int to) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(Linker.Option.captureStateLayout());
            return call(DUP3, capture, from, to, O_CLOEXEC);
        }
    }

    /** A raw TCP socket listening on 127.0.0.1 (ephemeral port). */
    static RawSocket rawListener() {
        RawSocket s = RawSocket.open(Libc.AF_INET, Libc.SOCK_STREAM);
        int r = bindLoopback4(s.fd());
        if (r == 0) {
            r = listen(s.fd(), 16);
        }
        if (r < 0) {
            s.close();
            throw new RawCallException("bind/listen", -r);
        }
        return s;
    }
}
