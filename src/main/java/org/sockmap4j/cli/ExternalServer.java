package org.sockmap4j.cli;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A program {@code bench proxy} starts on a loopback port (a peer proxy, or the nginx that
 * answers HTTP): run in its own cgroup, with a temporary directory for its configuration, pid and
 * logs, and its output in {@code out.log} there. It is ready once a connection to its port
 * succeeds (at most 10 s). {@link #close()} kills everything in its cgroup (workers, forked
 * children) and removes the directory.
 */
final class ExternalServer implements RunningProxy {
    private final String name;
    private final Process process;
    private final ProxyCgroups.Member cgroup;
    private final Path dir;
    private final int port;

    /**
     * Starts {@code command} (which must listen on 127.0.0.1:{@code port}) in {@code cgroup};
     * {@code dir}, made by {@link #tempDir}, becomes this server's and is removed by {@link #close()}.
     */
    ExternalServer(String name, List<String> command, int port, Path dir, ProxyCgroups.Member cgroup)
            throws IOException, InterruptedException {
        this.name = name;
        this.port = port;
        this.dir = dir;
        this.cgroup = cgroup;
        List<String> cmd = new ArrayList<>(cgroup.launcher());
        cmd.addAll(command);
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("out.log").toFile())
                    .start();
        } catch (IOException e) {
            close(null);
            throw e;
        }
        process = p;
        try {
            awaitListening();
        } catch (IOException | InterruptedException | RuntimeException e) {
            close();
            throw e;
        }
    }

    private void awaitListening() throws IOException, InterruptedException {
        for (int i = 0; i < 200; i++) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1000);
                return;
            } catch (IOException notYet) {
                if (!process.isAlive()) {
                    break;
                }
                Thread.sleep(50);
            }
        }
        throw new Errors.UserError(name + " did not start listening on 127.0.0.1:" + port
                + (process.isAlive() ? " in 10 s" : " (exit " + process.exitValue() + ")") + ": " + output());
    }

    /** What it printed so far (its last 2,000 characters), one line. */
    String output() {
        try {
            String s = Files.readString(dir.resolve("out.log")).strip();
            Path err = dir.resolve("error.log");
            if (Files.exists(err)) {
                s = (s + " " + Files.readString(err).strip()).strip();
            }
            return s.substring(Math.max(0, s.length() - 2000)).replace('\n', ' ');
        } catch (IOException e) {
            return "(no output: " + e.getMessage() + ")";
        }
    }

    /** A temporary directory for one server, readable by an unprivileged worker (nginx's). */
    static Path tempDir(String what) throws IOException {
        Path d = Files.createTempDirectory("sockmap4j-bench-" + what + "-");
        Files.setPosixFilePermissions(d, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        return d;
    }

    /** A loopback TCP port free right now (the server binds it a moment later). */
    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s.getLocalPort();
        }
    }

    @Override
    public int port() {
        return port;
    }

    /** SIGTERM, then up to 5 s for it to exit; none of these programs reports bytes: -1. */
    @Override
    public long stop() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            System.err.println("warning: " + name + " did not exit in 5 s after SIGTERM; killing it");
        }
        return -1;
    }

    @Override
    public void close() {
        close(process);
    }

    private void close(Process p) {
        if (p != null && p.isAlive()) {
            p.destroyForcibly();
        }
        cgroup.close();
        delete(dir);
    }

    /** Removes directory {@code dir} and everything in it; a failure is a warning. */
    static void delete(Path dir) {
        try (var walk = Files.walk(dir)) {
            for (Path f : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(f);
            }
        } catch (IOException e) {
            System.err.println("warning: could not remove " + dir + ": " + e.getMessage());
        }
    }
}
