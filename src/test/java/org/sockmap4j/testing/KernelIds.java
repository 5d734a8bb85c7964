package org.sockmap4j.testing;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.sockmap4j.internal.gen.bpf.LinuxBpf;
import org.sockmap4j.internal.gen.bpf.bpf_attr;
import org.sockmap4j.internal.sys.Syscall;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * What BPF objects exist in the kernel, machine-wide, by id: the kernel's own lists walked with
 * {@code BPF_MAP_GET_NEXT_ID}, {@code BPF_PROG_GET_NEXT_ID} and {@code BPF_LINK_GET_NEXT_ID}
 * (Linux 4.13+, links 5.8+); and which of them this process holds an fd to, from
 * {@code /proc/self/fdinfo} ({@code map_id}, {@code prog_id}, {@code link_id}).
 *
 * <p>The machine is shared: other processes create and free BPF objects at any time, so a test
 * compares the ids of the objects it made with what exists, never bare machine-wide totals.
 * Test sources only (the reliability and programs tests); not part of the shipped test-support package.
 */
public final class KernelIds {
    private KernelIds() {}

    private static final int ENOENT = 2;
    /** More ids than any machine here holds: bounds a walk even if the kernel misbehaved. */
    private static final int MAX_WALK = 10_000_000;

    /** The three kinds of BPF object that have ids and outlive their creator's fds. */
    public enum Kind {
        MAP(LinuxBpf.BPF_MAP_GET_NEXT_ID(), "map_id:"),
        PROG(LinuxBpf.BPF_PROG_GET_NEXT_ID(), "prog_id:"),
        LINK(LinuxBpf.BPF_LINK_GET_NEXT_ID(), "link_id:");

        final int nextIdCmd;
        final String fdinfoField;

        Kind(int nextIdCmd, String fdinfoField) {
            this.nextIdCmd = nextIdCmd;
            this.fdinfoField = fdinfoField;
        }
    }

    /** The ids of every object of {@code kind} that exists now. */
    public static Set<Integer> existing(Kind kind) {
        Set<Integer> ids = new TreeSet<>();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attr = arena.allocate(bpf_attr.layout());
            MemorySegment capture = arena.allocate(Syscall.captureSize(), 8);
            int id = 0;
            for (int i = 0; i < MAX_WALK; i++) {
                attr.fill((byte) 0);
                attr.set(JAVA_INT, bpf_attr.start_id$offset(), id);
                long r = Syscall.call(capture, Syscall.NR_BPF, kind.nextIdCmd, attr, bpf_attr.sizeof());
                if (r == -ENOENT) {
                    return ids;
                }
                if (r < 0) {
                    throw new AssertionError("BPF " + kind + "_GET_NEXT_ID failed: errno " + -r);
                }
                id = attr.get(JAVA_INT, bpf_attr.next_id$offset());
                ids.add(id);
            }
        }
        throw new AssertionError(kind + "_GET_NEXT_ID returned more than " + MAX_WALK + " ids");
    }

    /** {@link #existing(Kind)} for every kind. */
    public static Map<Kind, Set<Integer>> existing() {
        Map<Kind, Set<Integer>> all = new EnumMap<>(Kind.class);
        for (Kind k : Kind.values()) {
            all.put(k, existing(k));
        }
        return all;
    }

    /** The ids among {@code ids} that still exist, after waiting up to {@code timeout} for them to go. */
    public static Set<Integer> stillExisting(Kind kind, Set<Integer> ids, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Set<Integer> left = new TreeSet<>(ids);
            left.retainAll(existing(kind));
            if (left.isEmpty() || System.nanoTime() > deadline) {
                return left;
            }
            Thread.sleep(50); // the kernel frees maps and programs after an RCU grace period
        }
    }

    /**
     * The ids of the BPF objects this process holds an fd to now, by kind: for every fd that is a
     * map ({@code anon_inode:bpf-map}), program ({@code bpf-prog}) or link ({@code bpf_link}),
     * the {@code map_id}, {@code prog_id} or {@code link_id} line of its
     * {@code /proc/self/fdinfo/N}. A program that only a link holds is not listed.
     */
    public static Map<Kind, Set<Integer>> held() {
        Map<Kind, Set<Integer>> ids = new EnumMap<>(Kind.class);
        for (Kind k : Kind.values()) {
            ids.put(k, new TreeSet<>());
        }
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path fd : dir) {
                try {
                    Kind kind = switch (Files.readSymbolicLink(fd).toString()) {
                        case "anon_inode:bpf-map" -> Kind.MAP;
                        case "anon_inode:bpf-prog" -> Kind.PROG;
                        case "anon_inode:bpf_link" -> Kind.LINK;
                        default -> null;
                    };
                    if (kind == null) {
                        continue;
                    }
                    for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo").resolve(fd.getFileName()))) {
                        if (line.startsWith(kind.fdinfoField)) {
                            ids.get(kind).add(Integer.parseInt(line.substring(kind.fdinfoField.length()).strip()));
                        }
                    }
                } catch (NoSuchFileException closedMeanwhile) {
                    // not open any more
                } catch (IOException closedWhileRead) {
                    // closed between opening its fdinfo and reading it (a Cleaner on another
                    // thread): the read fails with ENOENT as a plain IOException (seen on 5.10)
                    if (Files.exists(fd, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                        throw closedWhileRead;
                    }
                }
            }
        } catch (IOException e) {
            throw new AssertionError("cannot read /proc/self/fd", e);
        }
        return ids;
    }

    /** The number of fds this process has open now. */
    public static int openFds() {
        int n = 0;
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path ignored : dir) {
                n++;
            }
        } catch (IOException e) {
            throw new AssertionError("cannot list /proc/self/fd", e);
        }
        return n - 1; // the directory stream's own fd
    }
}
