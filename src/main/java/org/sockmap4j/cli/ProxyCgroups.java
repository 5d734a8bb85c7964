package org.sockmap4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.sockmap4j.Cgroup;

/**
 * The cgroups of {@code bench proxy}: one cgroup v2 directory per started proxy (or server) under
 * {@code sockmap4j-bench-proxy-PID}, so that a proxy's CPU time is that of all its processes and
 * threads, including children it forks (socat) and that exited meanwhile ({@code cpu.stat}
 * {@code usage_usec}, kept by the kernel without the cpu controller), and so that stopping it
 * stops every process it started ({@code cgroup.kill}). Uses the machine's writable cgroup2
 * hierarchy, or mounts one in a temporary directory; {@link #close()} removes it all.
 */
final class ProxyCgroups implements AutoCloseable {
    private final Path parent;
    private final Path mounted;
    private final List<Member> members = new ArrayList<>();
    private int next;

    ProxyCgroups() throws IOException, InterruptedException {
        Path root = Cgroup.writableHierarchy().orElse(null);
        Path m = null;
        if (root == null) {
            m = Files.createTempDirectory("sockmap4j-cgroup2-");
            BenchLab.run("mount", "-t", "cgroup2", "none", m.toString());
            root = m;
        }
        mounted = m;
        parent = Files.createDirectory(root.resolve("sockmap4j-bench-proxy-" + ProcessHandle.current().pid()));
    }

    /** A new, empty cgroup named after {@code what}; closed by its owner or by {@link #close()}. */
    synchronized Member create(String what) throws IOException {
        Member c = new Member(Files.createDirectory(parent.resolve((next++) + "-" + what.replaceAll("[^a-z0-9-]", ""))));
        members.add(c);
        return c;
    }

    /** One proxy's cgroup. */
    static final class Member implements AutoCloseable {
        private final Path dir;

        private Member(Path dir) {
            this.dir = dir;
        }

        /**
         * The words to put before a command so that it starts in this cgroup: a shell that moves
         * itself in, then {@code exec}s the command (same pid).
         */
        List<String> launcher() {
            return List.of("sh", "-c", "echo $$ > \"$0\" && exec \"$@\"", dir.resolve("cgroup.procs").toString());
        }

        /** CPU time of everything that ran in the cgroup so far, in nanoseconds. */
        long cpuNanos() throws IOException {
            return usageMicros(Files.readString(dir.resolve("cpu.stat"))) * 1000;
        }

        /** Kills what still runs in the cgroup and removes it (bounded: a few seconds). */
        @Override
        public synchronized void close() {
            if (!Files.isDirectory(dir)) {
                return;
            }
            try {
                if (Files.exists(dir.resolve("cgroup.kill"))) { // Linux 5.14+
                    Files.writeString(dir.resolve("cgroup.kill"), "1");
                } else {
                    for (String pid : Files.readString(dir.resolve("cgroup.procs")).split("\\s+")) {
                        if (!pid.isEmpty()) {
                            ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
                        }
                    }
                }
            } catch (IOException | RuntimeException e) {
                System.err.println("warning: cannot kill what runs in " + dir + ": " + e.getMessage());
            }
            for (int i = 0; i < 100 && Files.isDirectory(dir); i++) {
                try {
                    Files.deleteIfExists(dir);
                } catch (IOException busy) {
                    sleep(); // processes still leaving
                }
            }
            if (Files.isDirectory(dir)) {
                System.err.println("warning: could not remove " + dir);
            }
        }
    }

    /** The {@code usage_usec} line of a {@code cpu.stat} file. */
    static long usageMicros(String cpuStat) {
        for (String line : cpuStat.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length == 2 && f[0].equals("usage_usec")) {
                return Long.parseLong(f[1]);
            }
        }
        throw new IllegalArgumentException("no usage_usec in cpu.stat: " + cpuStat.strip());
    }

    private static void sleep() {
        try {
            TimeUnit.MILLISECONDS.sleep(50);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        List<Member> all;
        synchronized (this) {
            all = new ArrayList<>(members);
        }
        for (Member m : all) {
            m.close();
        }
        try {
            Files.deleteIfExists(parent);
        } catch (IOException e) {
            System.err.println("warning: could not remove " + parent + ": " + e.getMessage());
        }
        if (mounted != null) {
            try {
                BenchLab.run("umount", mounted.toString());
                Files.deleteIfExists(mounted);
            } catch (IOException | InterruptedException | RuntimeException e) {
                System.err.println("warning: umount " + mounted + ": " + e.getMessage());
            }
        }
    }
}
