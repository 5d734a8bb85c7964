package org.sockmap4j.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;

import org.sockmap4j.Cgroup;
import org.sockmap4j.Counters;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.recipes.LocalBypass;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code sockmap bypass}: local TCP bypass for a cgroup. */
@Command(name = "bypass", description = "Bypass the TCP/IP stack between local TCP sockets of the processes "
        + "in a cgroup v2 directory (sock_ops + sk_msg redirect), until SIGINT/SIGTERM or --duration.")
final class BypassCommand implements Callable<Integer> {
    @Option(names = "--cgroup", required = true, paramLabel = "DIR", description = "cgroup v2 directory.")
    Path cgroup;

    @Option(names = "--duration", paramLabel = "SECONDS", description = "Stop after this many seconds (default: "
            + "run until interrupted).")
    long duration;

    @Option(names = "--verbose", description = "Print stack traces on errors.")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        Privileges.require("sockmap bypass");
        if (duration < 0) {
            throw new Errors.UserError("--duration must be 0 or more seconds");
        }
        KernelFeatures k = KernelFeatures.probe();
        k.require(KernelFeatures.Feature.SOCKHASH);
        k.require(KernelFeatures.Feature.SK_MSG);
        k.require(KernelFeatures.Feature.SOCK_OPS);
        try (Cgroup cg = CgroupOption.open(cgroup); LocalBypass bypass = LocalBypass.attach(cg)) {
            Runner.runUntilStopped("ready bypass cgroup=" + cgroup, duration, () -> {
                Counters.Snapshot s = bypass.stats();
                return "sockets " + bypass.sockets() + "  redirected " + s.redirectedMessages() + " msgs / "
                        + s.redirectedBytes() + " B  passed " + s.passedMessages() + " msgs";
            });
            Counters.Snapshot s = bypass.stats();
            System.out.println("stopped redirected_msgs=" + s.redirectedMessages() + " redirected_bytes="
                    + s.redirectedBytes() + " passed_msgs=" + s.passedMessages());
        }
        return 0;
    }
}
