package org.sockmap4j.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Predicate;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test class that leaves file descriptors open: it lists {@code /proc/self/fd} (with
 * {@code readlink} targets) before the class and after it, and reports every fd that is new, or
 * whose target changed, after up to five 100 ms retries (the JDK closes some sockets
 * asynchronously). It never triggers GC: an fd only a {@code Cleaner} would close is a leak.
 *
 * <p>BPF objects ({@code anon_inode:bpf-map}, {@code bpf-prog}, {@code bpf_link}), sockets,
 * pipes, pidfds and epoll fds all count. Ignored by default are only fds that the JVM opens lazily
 * and keeps: targets containing {@code .jar}, under {@code /proc/}, and {@code /dev/urandom} or
 * {@code /dev/random}. Before the first snapshot the JDK's own lazily created, JVM-lifetime fds
 * (the virtual-thread pollers' epoll fds and the NIO pre-close socket) are created by a short
 * loopback warm-up, so that they are not reported.
 *
 * <p>Register it before other extensions so that its check runs after theirs have cleaned up:
 * <pre>{@code
 * @ExtendWith(FdLeakCheck.class)          // or:
 * @RegisterExtension static final FdLeakCheck FDS = new FdLeakCheck().ignoring(t -> t.startsWith("/tmp/"));
 * }</pre>
 * Its static {@link #snapshot()} and {@link #leaksSince(Map)} can also check a single block.
 */
public final class FdLeakCheck implements BeforeAllCallback, AfterAllCallback {

    private static final Path FD_DIR = Path.of("/proc/self/fd");
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(FdLeakCheck.class);
    private static final int RETRIES = 5;
    private static final long RETRY_MILLIS = 100;
    private static volatile boolean warmedUp;

    private final Predicate<String> ignored;

    /** A check with the default ignore rules ({@link #ignoredByDefault(String)}). */
    public FdLeakCheck() {
        this(FdLeakCheck::ignoredByDefault);
    }

    private FdLeakCheck(Predicate<String> ignored) {
        this.ignored = ignored;
    }

    /** A copy of this check that also ignores fds whose link target matches {@code target}. */
    public FdLeakCheck ignoring(Predicate<String> target) {
        Objects.requireNonNull(target);
        return new FdLeakCheck(ignored.or(target));
    }

    /** Whether an fd with this link target is ignored by default (see the class comment). */
    public static boolean ignoredByDefault(String target) {
        return target.contains(".jar")
                || target.startsWith("/proc/")
                || target.equals("/dev/urandom")
                || target.equals("/dev/random");
    }

    /** The open fds of this process and their {@code readlink} targets, by fd number. */
    public static SortedMap<Integer, String> snapshot() {
        SortedMap<Integer, String> fds = new TreeMap<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(FD_DIR)) {
            for (Path fd : dir) {
                try {
                    fds.put(Integer.parseInt(fd.getFileName().toString()), Files.readSymbolicLink(fd).toString());
                } catch (IOException e) {
                    // closed while listing (e.g. the directory stream's own fd from another listing)
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot list " + FD_DIR, e);
        }
        return fds;
    }

    /** The fds open now that were not open (with the same target) in {@code before}, less ignored ones. */
    public SortedMap<Integer, String> leaksSince(Map<Integer, String> before) {
        SortedMap<Integer, String> leaks = new TreeMap<>();
        snapshot().forEach((fd, target) -> {
            if (!target.equals(before.get(fd)) && !ignored.test(target)) {
                leaks.put(fd, target);
            }
        });
        return leaks;
    }

    /**
     * Fails if fds opened since {@code before} are still open after the retries.
     *
     * @param what named in the failure message
     * @throws AssertionError listing the leaked fds
     */
    public void assertNoLeaksSince(Map<Integer, String> before, String what) {
        SortedMap<Integer, String> leaks = leaksSince(before);
        for (int i = 0; i < RETRIES && !leaks.isEmpty(); i++) {
            try {
                Thread.sleep(RETRY_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            leaks = leaksSince(before);
        }
        if (!leaks.isEmpty()) {
            StringBuilder msg = new StringBuilder().append(leaks.size()).append(" file descriptor(s) opened during ")
                    .append(what).append(" and not closed:");
            leaks.forEach((fd, target) -> msg.append("\n  fd ").append(fd).append(" -> ").append(target));
            throw new AssertionError(msg.toString());
        }
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        warmUpJdk();
        context.getStore(NAMESPACE).put(context.getUniqueId(), snapshot());
    }

    @Override
    @SuppressWarnings("unchecked")
    public void afterAll(ExtensionContext context) {
        Map<Integer, String> before = context.getStore(NAMESPACE).remove(context.getUniqueId(), Map.class);
        if (before != null) {
            assertNoLeaksSince(before, context.getDisplayName());
        }
    }

    /**
     * Makes the JDK create the fds it opens on first use of (virtual-thread) networking and then
     * keeps for the JVM's lifetime, so they are in the "before" snapshot. Loopback only.
     */
    static synchronized void warmUpJdk() {
        if (warmedUp) {
            return;
        }
        warmedUp = true;
        // a virtual thread parked on a socket read creates the JDK's I/O pollers and their epoll
        // fds (a master and one per read/write poller: 4 with 2 CPUs) for good. The byte is sent
        // only once the thread is seen parked: under slow emulation (vmtest) a fixed delay let
        // the read return at once, and the pollers then showed up as a test's leak.
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             java.net.Socket client = new java.net.Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
             java.net.Socket accepted = server.accept()) {
            Thread t = Thread.ofVirtual().start(() -> {
                try {
                    accepted.getInputStream().read();
                } catch (IOException ignored) {
                    // best effort
                }
            });
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (t.getState() != Thread.State.WAITING && t.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            client.getOutputStream().write(1);
            t.join(5000);
        } catch (IOException ignored) {
            // best effort
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
