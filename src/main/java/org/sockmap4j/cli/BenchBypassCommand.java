package org.sockmap4j.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import org.sockmap4j.KernelFeatures;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sockmap bench bypass}: what LocalBypass costs a connection it must leave alone (a peer
 * outside the cgroup) and what it gains for local ones (ping-pong, real servers), with and without,
 * in one table ({@link BypassBench}, printed by {@link BypassBenchReport}).
 */
@Command(name = "bypass", description = "LocalBypass without and with, in one table: a peer outside the cgroup "
        + "(iperf3, sockperf; also with the talk's old bypass), local ping-pong across CPUs, on one CPU and between "
        + "sibling cgroups, and real servers (nginx, redis, the JDK's HttpServer) between two namespaces.")
final class BenchBypassCommand implements Callable<Integer> {
    @Option(names = "--time", defaultValue = "5", paramLabel = "SECONDS",
            description = "Length of each timed run (default ${DEFAULT-VALUE}).")
    long time;

    @Option(names = "--rounds", defaultValue = "2", description = "Rounds; the variants alternate within each, "
            + "their order reversed every other round; figures are medians (default ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--rows", split = ",", paramLabel = "LIST", description = "Rows to run, of outside, local, "
            + "samecpu, siblings, nginx, redis, httpserver (default: all).")
    List<String> rows;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Option(names = "--strict", description = "Exit 1 if a run with LocalBypass had a socket error, timeout, "
            + "non-2xx response or redis error, or LocalBypass redirected an outside peer's traffic or none of a "
            + "local row's.")
    boolean strict;

    @Option(names = "--verbose", description = "Print stack traces on errors.")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        if (time < 1 || time > 3600) {
            throw new Errors.UserError("--time must be 1..3600 seconds");
        }
        if (rounds < 1 || rounds > 99) {
            throw new Errors.UserError("--rounds must be 1..99");
        }
        List<String> chosen = rows == null ? BypassBench.ROWS : new ArrayList<>();
        if (rows != null) {
            for (String r : rows) {
                if (!BypassBench.ROWS.contains(r.strip())) {
                    throw new Errors.UserError("--rows: unknown row '" + r + "'; choose from "
                            + String.join(",", BypassBench.ROWS));
                }
                chosen.add(r.strip());
            }
        }
        Privileges.require("sockmap bench bypass");
        BenchTools.requireAll(BypassBench.tools(chosen), "sockmap bench bypass");
        KernelFeatures k = KernelFeatures.probe();
        k.require(KernelFeatures.Feature.SOCKHASH);
        k.require(KernelFeatures.Feature.SK_MSG);
        k.require(KernelFeatures.Feature.SOCK_OPS);
        CountDownLatch stop = Runner.stopOnSignals();
        BypassBench.Result result;
        try (BypassBench bench = new BypassBench(stop, time, rounds)) {
            System.err.println("bench bypass: setting up namespaces and cgroups; rows " + String.join(",", chosen));
            result = bench.run(chosen);
        }
        if (json) {
            System.out.println(BypassBenchReport.json(result, time, rounds));
        } else {
            BypassBenchReport.text(System.out, result, time, rounds);
        }
        for (String p : result.problems()) {
            System.err.println("sockmap bench bypass: PROBLEM WITH LOCALBYPASS: " + p);
        }
        return strict && !result.problems().isEmpty() ? Main.ERROR : 0;
    }
}
