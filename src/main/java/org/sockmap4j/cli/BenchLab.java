package org.sockmap4j.cli;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.sockmap4j.Cgroup;

/**
 * The test bed of the {@code bench} subcommands: network namespaces A and B joined by veth
 * (10.0.0.1/24 in A, 10.0.0.2/24 in B), optionally a third namespace C joined to B by a second
 * veth pair (10.0.1.1/24 in B, 10.0.1.2/24 in C), the bench's cgroup (and child cgroups of it),
 * and the processes started in them. These addresses exist only inside the namespaces.
 * {@link #close()} removes all of it, also after a failure or a signal: it stops the processes it
 * started, then kills whatever else still runs in its namespaces (e.g. a worker a server forked),
 * deletes the namespaces, the cgroups and a cgroup2 mount it made.
 */
final class BenchLab implements AutoCloseable {
    static final String A_IP = "10.0.0.1";
    static final String B_IP = "10.0.0.2";
    static final String B_TO_C_IP = "10.0.1.1";
    static final String C_IP = "10.0.1.2";

    /** Where a process runs: namespace, cgroup (null: the bench's own, outside every bench cgroup), CPU (null: any). */
    record Place(String ns, Path cgroup, String cpu) {}

    /** A started process and everything it printed so far (stdout and stderr together). */
    record Child(Process process, StringBuilder out) {
        String output() {
            synchronized (out) {
                return out.toString();
            }
        }
    }

    private final long pid = ProcessHandle.current().pid();
    private final String nsA = "sm4j-bench-a-" + pid;
    private final String nsB = "sm4j-bench-b-" + pid;
    private final String nsC = "sm4j-bench-c-" + pid;
    private final List<Child> children = new ArrayList<>();
    private final List<String> namespaces = new ArrayList<>();
    private final List<Path> childCgroups = new ArrayList<>();
    private final CountDownLatch stop;
    private Path mountedCgroup2;
    private Path cgroupDir;

    BenchLab(CountDownLatch stop) {
        this.stop = stop;
    }

    String nsA() {
        return nsA;
    }

    String nsB() {
        return nsB;
    }

    String nsC() {
        return nsC;
    }

    /** Creates A and B (and C if {@code withC}), their links, and the bench's cgroup. */
    void setUp(boolean withC) throws IOException, InterruptedException {
        addNamespace(nsA);
        addNamespace(nsB);
        run("ip", "-n", nsA, "link", "add", "name", "veth0", "type", "veth", "peer", "name", "veth0", "netns", nsB);
        for (String ns : new String[] {nsA, nsB}) {
            run("ip", "-n", ns, "link", "set", "dev", "lo", "up");
            run("ip", "-n", ns, "link", "set", "dev", "veth0", "up");
        }
        run("ip", "-n", nsA, "addr", "add", A_IP + "/24", "dev", "veth0");
        run("ip", "-n", nsB, "addr", "add", B_IP + "/24", "dev", "veth0");
        if (withC) {
            addNamespace(nsC);
            run("ip", "-n", nsB, "link", "add", "name", "veth1", "type", "veth", "peer", "name", "veth1", "netns", nsC);
            run("ip", "-n", nsC, "link", "set", "dev", "lo", "up");
            run("ip", "-n", nsB, "link", "set", "dev", "veth1", "up");
            run("ip", "-n", nsC, "link", "set", "dev", "veth1", "up");
            run("ip", "-n", nsB, "addr", "add", B_TO_C_IP + "/24", "dev", "veth1");
            run("ip", "-n", nsC, "addr", "add", C_IP + "/24", "dev", "veth1");
        }
        Path root = Cgroup.writableHierarchy().orElse(null);
        if (root == null) {
            mountedCgroup2 = Files.createTempDirectory("sockmap4j-cgroup2-");
            run("mount", "-t", "cgroup2", "none", mountedCgroup2.toString());
            root = mountedCgroup2;
        }
        cgroupDir = Files.createDirectory(root.resolve("sockmap4j-bench-" + pid));
    }

    private void addNamespace(String ns) throws IOException, InterruptedException {
        run("ip", "netns", "add", ns);
        namespaces.add(ns);
    }

    /** The bench's cgroup, {@code sockmap4j-bench-PID}. */
    Path cgroup() {
        return cgroupDir;
    }

    /** A child cgroup of the bench's, made on first use (siblings for a several-cgroup bypass). */
    Path cgroup(String name) throws IOException {
        Path p = cgroupDir.resolve(name);
        if (!Files.isDirectory(p)) {
            Files.createDirectory(p);
            childCgroups.add(p);
        }
        return p;
    }

    /** Starts {@code command} at {@code where}, its output collected. */
    Child start(Place where, List<String> command) throws IOException {
        List<String> cmd = new ArrayList<>();
        if (where.cgroup() != null) {
            // join the cgroup before entering the namespace: `ip netns exec` mounts a fresh /sys in
            // which the cgroup's path may not exist
            cmd.addAll(List.of("sh", "-c", "echo $$ > \"$0\" && exec \"$@\"",
                    where.cgroup().resolve("cgroup.procs").toString()));
        }
        cmd.addAll(List.of("ip", "netns", "exec", where.ns()));
        if (where.cpu() != null) {
            cmd.addAll(List.of("taskset", "-c", where.cpu()));
        }
        cmd.addAll(command);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        Child c = new Child(p, new StringBuilder());
        Thread.ofVirtual().start(() -> drain(p.getInputStream(), c.out()));
        children.add(c);
        return c;
    }

    /**
     * Waits for a client to finish (at most {@code seconds} + {@code slack}), printing progress to
     * stderr once a second, and returns its output; a non-zero exit is an error naming
     * {@code label}. A signal stops the wait with {@link LatencyBench.Interrupted}.
     */
    String await(String label, Child client, long seconds, long slack) throws IOException, InterruptedException {
        long start = System.nanoTime();
        long limit = TimeUnit.SECONDS.toNanos(seconds + slack);
        Process p = client.process();
        while (!p.waitFor(1, TimeUnit.SECONDS)) {
            checkStop();
            long el = (System.nanoTime() - start) / 1_000_000_000L;
            System.err.printf("%s: %d/%d s%n", label, Math.min(el, seconds), seconds);
            if (System.nanoTime() - start > limit) {
                p.destroyForcibly();
                throw new Errors.UserError(label + ": the client did not finish in " + (seconds + slack) + " s");
            }
        }
        for (int i = 0; i < 50 && p.getInputStream().available() > 0; i++) {
            Thread.sleep(20); // the reader thread takes the last bytes
        }
        Thread.sleep(20);
        if (p.exitValue() != 0) {
            throw new Errors.UserError(label + ": the client failed (exit " + p.exitValue() + "):\n"
                    + client.output().strip());
        }
        return client.output();
    }

    /** Throws {@link LatencyBench.Interrupted} once SIGINT or SIGTERM arrived. */
    void checkStop() {
        if (stop.getCount() == 0) {
            throw new LatencyBench.Interrupted();
        }
    }

    /** Waits up to 10 s until something listens on TCP {@code port} in {@code ns}. */
    void waitForListener(String what, String ns, int port, Child server) throws IOException, InterruptedException {
        for (int i = 0; i < 100; i++) {
            checkStop();
            Process p = new ProcessBuilder("ip", "netns", "exec", ns, "ss", "-Hltn", "sport = :" + port)
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            if (out.contains(":" + port)) {
                return;
            }
            if (!server.process().isAlive()) {
                break;
            }
            Thread.sleep(100);
        }
        throw new Errors.UserError(what + " did not start listening on port " + port
                + (server.process().isAlive() ? " in 10 s" : " (it exited: " + server.output().strip() + ")"));
    }

    /** Stops a process: SIGTERM (a server shuts its workers down), SIGKILL after 3 s. */
    static void stop(Child c) throws InterruptedException {
        Process p = c.process();
        if (p.isAlive()) {
            p.destroy();
            if (!p.waitFor(3, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
            }
        }
    }

    private static void drain(InputStream in, StringBuilder out) {
        byte[] buf = new byte[8192];
        try {
            for (int n; (n = in.read(buf)) > 0;) {
                String s = new String(buf, 0, n, StandardCharsets.UTF_8);
                synchronized (out) {
                    if (out.length() < (1 << 20)) { // a chatty server's output is not kept forever
                        out.append(s);
                    }
                }
            }
        } catch (IOException e) {
            // process gone
        }
    }

    /** Runs a command to completion; a failure is an error with its output. */
    static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new Errors.UserError(String.join(" ", cmd) + " failed: " + out.strip());
        }
        return out;
    }

    /** Whether {@code tool} is an executable on PATH. */
    static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void close() {
        for (Child c : children) {
            c.process().destroy();
        }
        for (Child c : children) {
            try {
                if (!c.process().waitFor(3, TimeUnit.SECONDS)) {
                    c.process().destroyForcibly();
                    c.process().waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                c.process().destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
        for (String ns : namespaces) {
            killRemaining(ns);
            quietly("ip", "netns", "del", ns);
        }
        List<Path> dirs = new ArrayList<>(childCgroups);
        if (cgroupDir != null) {
            dirs.add(cgroupDir);
        }
        for (Path dir : dirs) {
            for (int i = 0; i < 30 && Files.exists(dir); i++) {
                try {
                    Files.deleteIfExists(dir);
                } catch (IOException e) {
                    sleep(); // processes still leaving
                }
            }
        }
        if (mountedCgroup2 != null) {
            quietly("umount", mountedCgroup2.toString());
            try {
                Files.deleteIfExists(mountedCgroup2);
            } catch (IOException ignored) {
                // left an empty temp dir
            }
        }
    }

    /** Kills what still runs in {@code ns} (a server's forked worker): {@code ip netns pids NS}. */
    private static void killRemaining(String ns) {
        try {
            for (String line : run("ip", "netns", "pids", ns).split("\\s+")) {
                if (line.matches("\\d+")) {
                    ProcessHandle.of(Long.parseLong(line)).ifPresent(h -> {
                        h.destroyForcibly();
                        h.onExit().completeOnTimeout(h, 5, TimeUnit.SECONDS).join();
                    });
                }
            }
        } catch (IOException | InterruptedException | RuntimeException e) {
            System.err.println("warning: ip netns pids " + ns + ": " + e.getMessage());
        }
    }

    private static void sleep() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void quietly(String... cmd) {
        try {
            run(cmd);
        } catch (IOException | InterruptedException | RuntimeException e) {
            System.err.println("warning: " + String.join(" ", cmd) + ": " + e.getMessage());
        }
    }
}
