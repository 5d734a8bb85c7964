package org.sockmap4j.internal.unix;

import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channel;
import java.nio.channels.DatagramChannel;
import java.nio.channels.NetworkChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Finds the file descriptor behind a JDK socket channel.
 *
 * <p>Default path, no JVM flags needed: scan this process's fds ({@code /proc/self/fd}) for
 * sockets whose family, type, listening state and both addresses ({@code getsockname},
 * {@code getpeername}) match what the channel reports. A connected TCP or UDP socket, a listening
 * socket and a bound UNIX socket are unique by those; when several distinct sockets still match
 * (unbound UDP, accepted UNIX stream sockets), the channel briefly flips one harmless option
 * through the JDK (SO_REUSEADDR, or SO_LINGER for UNIX stream sockets), the one fd that sees the
 * flip is the channel's, and the option is restored. Cost: a few microseconds per open fd.
 *
 * <p>Fast path, opt in: run with {@code --add-exports java.base/sun.nio.ch=org.sockmap4j} (or
 * {@code =ALL-UNNAMED} on the class path) and the fd is read from the JDK directly in
 * nanoseconds.
 */
public final class ChannelFds {
    private ChannelFds() {}

    private static final MethodHandle GET_FD_VAL = fastPath();
    private static final Object MARKER_LOCK = new Object();

    private static MethodHandle fastPath() {
        try {
            Module base = Object.class.getModule();
            if (!base.isExported("sun.nio.ch", ChannelFds.class.getModule())) {
                return null;
            }
            Class<?> selCh = Class.forName("sun.nio.ch.SelChImpl");
            return MethodHandles.lookup().findVirtual(selCh, "getFDVal", MethodType.methodType(int.class))
                    .asType(MethodType.methodType(int.class, Object.class));
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /** True when the JDK-internal fast path is enabled (see the class comment). */
    public static boolean fastPathEnabled() {
        return GET_FD_VAL != null;
    }

    /**
     * The fd of {@code channel}.
     *
     * @throws IllegalArgumentException if the channel is closed, is not a socket channel of the
     *     JDK's default provider, or its fd cannot be found
     */
    public static int fdOf(Channel channel) {
        if (!channel.isOpen()) {
            throw new IllegalArgumentException("the channel is closed: " + channel);
        }
        if (GET_FD_VAL != null) {
            try {
                return (int) GET_FD_VAL.invokeExact((Object) channel);
            } catch (ClassCastException e) {
                // not a JDK channel: fall through to the scan, which will say so
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }
        Expect e = expect(channel);
        List<long[]> found = new ArrayList<>(); // {fd, inode}
        for (int fd : socketFds()) {
            long inode = inode(fd);
            if (inode < 0 || !e.matches(fd)) {
                continue;
            }
            found.add(new long[] {fd, inode});
            if (e.unique) {
                break;
            }
        }
        long distinct = found.stream().mapToLong(f -> f[1]).distinct().count();
        if (distinct == 1) {
            return (int) found.get(0)[0];
        }
        if (distinct == 0) {
            throw new IllegalArgumentException("cannot find the socket fd of " + channel
                    + " among this process's fds (was it closed concurrently?)");
        }
        return disambiguate(channel, e, found);
    }

    /** What a channel says about itself, to compare with what the kernel says about an fd. */
    private record Expect(boolean unix, int type, boolean listening, SocketAddress local, SocketAddress remote,
            boolean unique, boolean pending) {
        Expect(boolean unix, int type, boolean listening, SocketAddress local, SocketAddress remote, boolean unique) {
            this(unix, type, listening, local, remote, unique, false);
        }

        boolean matches(int fd) {
            long domain = SockOpt.getInt(fd, Libc.SO_DOMAIN);
            if (unix ? domain != Libc.AF_UNIX : domain != Libc.AF_INET && domain != Libc.AF_INET6) {
                return false;
            }
            if (SockOpt.getInt(fd, Libc.SO_TYPE) != type) {
                return false;
            }
            if (type == Libc.SOCK_STREAM && (SockOpt.getInt(fd, Libc.SO_ACCEPTCONN) == 1) != listening) {
                return false;
            }
            SockAddr.Raw l = SockAddr.local(fd);
            if (local != null && (l == null || !same(local, l.toSocketAddress()))) {
                return false;
            }
            SockAddr.Raw r = SockAddr.peer(fd);
            if (pending && r == null) {
                return true; // still connecting
            }
            return same(remote, r == null ? null : r.toSocketAddress());
        }
    }

    private static Expect expect(Channel ch) {
        try {
            return switch (ch) {
                case SocketChannel s -> {
                    boolean unix = isUnix(s);
                    if (s.isConnectionPending()) {
                        // a connect the JDK has not finished: the kernel may have (peer = the remote
                        // address) or not (no peer yet), and the JDK may not know the local address;
                        // every such socket matches and the option flip tells them apart
                        yield new Expect(unix, Libc.SOCK_STREAM, false, null, s.getRemoteAddress(), false, true);
                    }
                    SocketAddress remote = s.getRemoteAddress();
                    // a connected TCP socket is unique by its 4-tuple; UNIX peers are not
                    yield new Expect(unix, Libc.SOCK_STREAM, false, s.getLocalAddress(), remote,
                            !unix && remote != null);
                }
                case ServerSocketChannel s -> {
                    SocketAddress local = s.getLocalAddress();
                    yield new Expect(local instanceof UnixDomainSocketAddress, Libc.SOCK_STREAM, true, local, null,
                            false);
                }
                case DatagramChannel d -> new Expect(false, Libc.SOCK_DGRAM, false, d.getLocalAddress(),
                        d.getRemoteAddress(), d.getRemoteAddress() != null);
                default -> throw new IllegalArgumentException("not a socket channel: " + ch.getClass().getName());
            };
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the addresses of " + ch, e);
        }
    }

    private static boolean isUnix(NetworkChannel ch) throws IOException {
        SocketAddress a = ch.getLocalAddress();
        if (a != null) {
            return a instanceof UnixDomainSocketAddress;
        }
        return !ch.supportedOptions().contains(StandardSocketOptions.TCP_NODELAY);
    }

    /** Compares a channel's view of an address with the kernel's, as the JDK would report it. */
    static boolean same(SocketAddress expected, SocketAddress actual) {
        if (expected == null) {
            if (actual == null) {
                return true;
            }
            if (actual instanceof InetSocketAddress i) { // unbound: 0.0.0.0:0 or [::]:0
                return i.getPort() == 0 && i.getAddress().isAnyLocalAddress();
            }
            return actual instanceof UnixDomainSocketAddress u && u.getPath().toString().isEmpty();
        }
        if (expected instanceof InetSocketAddress e && actual instanceof InetSocketAddress a) {
            if (e.getPort() != a.getPort()) {
                return false;
            }
            if (e.getAddress().isAnyLocalAddress() && a.getAddress().isAnyLocalAddress()) {
                return true;
            }
            return Arrays.equals(e.getAddress().getAddress(), a.getAddress().getAddress());
        }
        if (expected instanceof UnixDomainSocketAddress e && actual instanceof UnixDomainSocketAddress a) {
            return e.getPath().toString().equals(a.getPath().toString());
        }
        return actual == null && expected instanceof UnixDomainSocketAddress u && u.getPath().toString().isEmpty();
    }

    /** Socket fds of this process, newest (highest) first: fresh sockets are found sooner. */
    private static int[] socketFds() {
        List<Integer> fds = new ArrayList<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path p : dir) {
                String n = p.getFileName().toString();
                fds.add(Integer.parseInt(n));
            }
        } catch (IOException | NumberFormatException e) {
            throw new IllegalStateException("cannot list /proc/self/fd", e);
        }
        fds.sort(java.util.Comparator.reverseOrder());
        return fds.stream().mapToInt(Integer::intValue).toArray();
    }

    private static long inode(int fd) {
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
            if (!target.startsWith("socket:[")) {
                return -1;
            }
            return Long.parseLong(target, 8, target.length() - 1, 10);
        } catch (IOException | RuntimeException e) {
            return -1; // closed meanwhile, or not a socket
        }
    }

    /**
     * Flips a restorable option through the channel and returns the fd whose value changed with
     * it: every candidate is read before and after, so candidates that already had the new value
     * do not confuse the choice.
     */
    private static int disambiguate(Channel ch, Expect e, List<long[]> found) {
        synchronized (MARKER_LOCK) {
            try {
                NetworkChannel nc = (NetworkChannel) ch;
                if (!e.unix && nc.supportedOptions().contains(StandardSocketOptions.SO_REUSEADDR)) {
                    boolean before = nc.getOption(StandardSocketOptions.SO_REUSEADDR);
                    long[] old = read(found, fd -> SockOpt.getInt(fd, Libc.SO_REUSEADDR));
                    nc.setOption(StandardSocketOptions.SO_REUSEADDR, !before);
                    try {
                        return pick(ch, found, old, fd -> SockOpt.getInt(fd, Libc.SO_REUSEADDR));
                    } finally {
                        nc.setOption(StandardSocketOptions.SO_REUSEADDR, before);
                    }
                }
                if (e.unix && nc.supportedOptions().contains(StandardSocketOptions.SO_LINGER)) {
                    int before = nc.getOption(StandardSocketOptions.SO_LINGER);
                    long[] old = read(found, ChannelFds::lingerValue);
                    int mark = 7;
                    while (contains(old, mark) || mark == before) {
                        mark++;
                    }
                    nc.setOption(StandardSocketOptions.SO_LINGER, mark);
                    try {
                        return pick(ch, found, old, ChannelFds::lingerValue);
                    } finally {
                        nc.setOption(StandardSocketOptions.SO_LINGER, before);
                    }
                }
            } catch (IOException ex) {
                throw new IllegalArgumentException("cannot tell which fd belongs to " + ch, ex);
            }
        }
        throw new IllegalArgumentException("several sockets match " + ch + " and none can be told apart");
    }

    /** SO_LINGER as one number: -1 when off, else the seconds. */
    private static long lingerValue(int fd) {
        int[] l = SockOpt.linger(fd);
        return l == null ? Long.MIN_VALUE : l[0] == 0 ? -1 : l[1];
    }

    private static boolean contains(long[] values, long v) {
        for (long x : values) {
            if (x == v) {
                return true;
            }
        }
        return false;
    }

    private static long[] read(List<long[]> found, java.util.function.IntToLongFunction option) {
        long[] out = new long[found.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = option.applyAsLong((int) found.get(i)[0]);
        }
        return out;
    }

    private static int pick(Channel ch, List<long[]> found, long[] before, java.util.function.IntToLongFunction option) {
        long inode = -1;
        int fd = -1;
        for (int i = 0; i < found.size(); i++) {
            long[] f = found.get(i);
            if (option.applyAsLong((int) f[0]) != before[i]) {
                if (fd >= 0 && inode != f[1]) {
                    throw new IllegalArgumentException("several sockets match " + ch + " (concurrent option change?)");
                }
                inode = f[1];
                if (fd < 0) {
                    fd = (int) f[0];
                }
            }
        }
        if (fd < 0) {
            throw new IllegalArgumentException("cannot tell which fd belongs to " + ch);
        }
        return fd;
    }
}
