package org.sockmap4j.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.sockmap4j.Cgroup;
import org.sockmap4j.recipes.LocalBypass;

/**
 * The talk's experiment: namespaces A and B joined by veth (10.0.0.1/24, 10.0.0.2/24, only inside
 * them; see {@link BenchLab}), a cgroup, a TCP ping-pong server in A and client in B (sockperf if
 * installed, else the built-in {@link PingPongPeer}), pinned to fixed CPUs, run without and then
 * with the local bypass. Everything it creates is torn down in {@link #close()}, also after a
 * failure or a signal.
 */
final class LatencyBench implements AutoCloseable {
    static final int PORT = 11111;

    private final boolean sockperf = BenchLab.onPath("sockperf");
    private final BenchLab lab;

    private final String serverCpu;
    private final String clientCpu;

    /** {@code cpus}: "SERVER,CLIENT" CPU numbers for taskset, or "none" to leave scheduling alone. */
    LatencyBench(CountDownLatch stop, String cpus) {
        this.lab = new BenchLab(stop);
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
        lab.setUp(false);
    }

    Path cgroup() {
        return lab.cgroup();
    }

    /** One timed run; {@code label} for progress. Returns the parsed result. */
    LatencyResult measure(String label, long seconds) throws IOException, InterruptedException {
        return pingPong(lab, label, seconds, sockperf, new BenchLab.Place(lab.nsA(), lab.cgroup(), serverCpu),
                BenchLab.A_IP, new BenchLab.Place(lab.nsB(), lab.cgroup(), clientCpu));
    }

    /**
     * One ping-pong run of {@code seconds}: a server at {@code server} listening on
     * {@code serverIp}, a client at {@code client}; the server is stopped afterwards.
     */
    static LatencyResult pingPong(BenchLab lab, String label, long seconds, boolean sockperf, BenchLab.Place server,
            String serverIp, BenchLab.Place client) throws IOException, InterruptedException {
        BenchLab.Child srv = lab.start(server, sockperf
                ? List.of("sockperf", "server", "-i", serverIp, "-p", Integer.toString(PORT), "--tcp")
                : java("server", serverIp, Integer.toString(PORT)));
        try {
            lab.waitForListener("the ping-pong server", server.ns(), PORT, srv);
            BenchLab.Child cl = lab.start(client, sockperf
                    ? List.of("sockperf", "ping-pong", "-i", serverIp, "-p", Integer.toString(PORT), "--tcp", "-t",
                            Long.toString(seconds))
                    : java("client", serverIp, Integer.toString(PORT), Long.toString(seconds)));
            return LatencyResult.parse(lab.await(label, cl, seconds, 30));
        } finally {
            srv.process().destroyForcibly();
            srv.process().waitFor(5, java.util.concurrent.TimeUnit.SECONDS);
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

    private static List<String> java(String... args) {
        List<String> cmd = new java.util.ArrayList<>(ChildJava.command(PingPongPeer.class));
        cmd.addAll(List.of(args));
        return cmd;
    }

    @Override
    public void close() {
        lab.close();
    }
}
