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
import org.sockmap4j.recipes.LocalBypass;

/**
 * The talk's experiment: namespaces A and B joined by veth (10.0.0.1/24, 10.0.0.2/24, only inside
 * them), a cgroup, a TCP ping-pong server in A and client in B (sockperf if installed, else the
 * built-in {@link PingPongPeer}), pinned to fixed CPUs, run without and then with the local bypass.
 * Everything it creates is torn down in {@link #close()}, also after a failure or a signal.
 */
final class LatencyBench implements AutoCloseable {
    private static final String SERVER_IP = "10.0.0.1";
    private static final int PORT = 11111;

    private final long pid = ProcessHandle.current().pid();
    private final String nsA = "sm4j-bench-a-" + pid;
    private final String nsB = "sm4j-bench-b-" + pid;
    private final List<Process> processes = new ArrayList<>();
    private final boolean sockperf = onPath("sockperf");
    private final CountDownLatch stop;
    private Path mountedCgroup2;
    private Path cgroupDir;
    private boolean nsCreated;

    private final String serverCpu;
    private final String clientCpu;

    /** {@code cpus}: "SERVER,CLIENT" CPU numbers for taskset, or "none" to leave scheduling alone. */
    LatencyBench(CountDownLatch stop, String cpus) {
        this.stop = stop;
        if (cpus.equals("none")) {
            serverCpu = null;
            clientCpu = null;
        } else {
            String[] c = cpus.split(",");
            if (c.length != 2 || !c[0].matches("\\d+") || !c[1].matches("\\d+")) {
                throw new Errors.UserError("--cpus must be SERVER,CLIENT (e.g. 0,1) or none");
            }
            serverCpu = c[0];
            clientCpu = c[1];
        }
    }

    String tool() {
        return sockperf ? "sockperf" : "built-in Java ping-pong";
    }

    void setUp() throws IOException, InterruptedException {
        run("ip", "netns", "add", nsA);
        nsCreated = true;
        run("ip", "netns", "add", nsB);
        run("ip", "-n", nsA, "link", "add", "name", "veth0", "type", "veth", "peer", "name", "veth0", "netns", nsB);
        for (String ns : new String[] {nsA, nsB}) {
            run("ip", "-n", ns, "link", "set", "dev", "lo", "up");
            run("ip", "-n", ns, "link", "set", "dev", "veth0", "up");
        }
        run("ip", "-n", nsA, "addr", "add", SERVER_IP + "/24", "dev", "veth0");
        run("ip", "-n", nsB, "addr", "add", "10.0.0.2/24", "dev", "veth0");
        Path root = Cgroup.writableHierarchy().orElse(null);
        if (root == null) {
            mountedCgroup2 = Files.createTempDirectory("sockmap4j-cgroup2-");
            run("mount", "-t", "cgroup2", "none", mountedCgroup2.toString());
            root = mountedCgroup2;
        }
        cgroupDir = Files.createDirectory(root.resolve("sockmap4j-bench-" + pid));
    }

    Path cgroup() {
        return cgroupDir;
    }

    /** One timed run; {@code label} for progress. Returns the parsed result. */
    LatencyResult measure(String label, long seconds) throws IOException, InterruptedException {
        Process server = start(inCgroup(nsA, serverCpu, sockperf
                ? "sockperf server -i " + SERVER_IP + " -p " + PORT + " --tcp"
                : java() + " server " + SERVER_IP + " " + PORT));
        try {
            waitForListener();
            Process client = start(inCgroup(nsB, clientCpu, sockperf
                    ? "sockperf ping-pong -i " + SERVER_IP + " -p " + PORT + " --tcp -t " + seconds
                    : java() + " client " + SERVER_IP + " " + PORT + " " + seconds));
            StringBuilder out = new StringBuilder();
            Thread reader = Thread.ofVirtual().start(() -> drain(client.getInputStream(), out));
            long start = System.nanoTime();
            long limit = TimeUnit.SECONDS.toNanos(seconds + 30);
            while (!client.waitFor(1, TimeUnit.SECONDS)) {
                if (stop.getCount() == 0) {
                    throw new Interrupted();
                }
                long el = (System.nanoTime() - start) / 1_000_000_000L;
                System.err.printf("%s: %d/%d s%n", label, Math.min(el, seconds), seconds);
                if (System.nanoTime() - start > limit) {
                    throw new Errors.UserError(label + ": the ping-pong client did not finish in time");
                }
            }
            reader.join(5000);
            if (client.exitValue() != 0) {
                throw new Errors.UserError(label + ": the ping-pong client failed (exit " + client.exitValue() + "):\n"
                        + out.toString().strip());
            }
            return LatencyResult.parse(out.toString());
        } finally {
            server.destroyForcibly();
            server.waitFor(5, TimeUnit.SECONDS);
        }
    }

    /** Runs the bypass for the duration of {@code body}. */
    LocalBypass bypass(Cgroup cg) {
        return LocalBypass.attach(cg);
    }

    /** A signal stopped the bench; everything is torn down and the tool exits 130. */
    static final class Interrupted extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Interrupted() {
            super("interrupted");
        }
    }

    private String java() {
        String javaBin = ProcessHandle.current().info().command().orElse("java");
        return javaBin + " --enable-native-access=ALL-UNNAMED -cp " + System.getProperty("java.class.path") + " "
                + PingPongPeer.class.getName();
    }

    private String[] inCgroup(String ns, String cpu, String command) {
        // join the cgroup before entering the namespace: `ip netns exec` mounts a fresh /sys in which
        // the cgroup's path may not exist
        return new String[] {"sh", "-c", "echo $$ > " + cgroupDir.resolve("cgroup.procs") + " && exec ip netns exec "
            + ns + (cpu == null ? "" : " taskset -c " + cpu) + " " + command};
    }

    private void waitForListener() throws IOException, InterruptedException {
        for (int i = 0; i < 100; i++) {
            Process p = new ProcessBuilder("ip", "netns", "exec", nsA, "ss", "-Hltn", "sport = :" + PORT)
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            if (out.contains(":" + PORT)) {
                return;
            }
            Thread.sleep(100);
        }
        throw new Errors.UserError("the ping-pong server did not start listening in 10 s"
                + (processes.isEmpty() || processes.get(0).isAlive() ? "" : " (it exited: "
                + new String(processes.get(processes.size() - 1).getInputStream().readAllBytes(),
                        StandardCharsets.UTF_8).strip() + ")"));
    }

    private Process start(String... cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        processes.add(p);
        return p;
    }

    private static void drain(InputStream in, StringBuilder out) {
        try {
            String s = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            synchronized (out) {
                out.append(s);
            }
        } catch (IOException e) {
            // process gone
        }
    }

    private static void run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new Errors.UserError(String.join(" ", cmd) + " failed: " + out.strip());
        }
    }

    private static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void close() {
        for (Process p : processes) {
            p.destroyForcibly();
        }
        for (Process p : processes) {
            try {
                p.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (nsCreated) {
            quietly("ip", "netns", "del", nsA);
            quietly("ip", "netns", "del", nsB);
        }
        if (cgroupDir != null) {
            for (int i = 0; i < 30; i++) {
                try {
                    Files.deleteIfExists(cgroupDir);
                    break;
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
