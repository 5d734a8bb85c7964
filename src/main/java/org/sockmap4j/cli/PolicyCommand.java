package org.sockmap4j.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import org.sockmap4j.Cgroup;
import org.sockmap4j.Counters;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.recipes.EgressPolicy;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code sockmap policy}: egress policy for a cgroup. */
@Command(name = "policy", description = "Egress policy for the processes in a cgroup v2 directory: sends to a "
        + "denied CIDR fail with EACCES, until SIGINT/SIGTERM or --duration.")
final class PolicyCommand implements Callable<Integer> {
    @Option(names = "--cgroup", required = true, paramLabel = "DIR", description = "cgroup v2 directory.")
    Path cgroup;

    @Option(names = "--deny", required = true, paramLabel = "CIDR", description = "Denied destination, e.g. "
            + "192.0.2.0/24 or 2001:db8::/32 (repeatable).")
    List<String> deny;

    @Option(names = "--duration", paramLabel = "SECONDS", description = "Stop after this many seconds.")
    long duration;

    @Option(names = "--verbose", description = "Print stack traces on errors.")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        for (String c : deny) {
            Cidrs.check(c);
        }
        Privileges.require("sockmap policy");
        if (duration < 0) {
            throw new Errors.UserError("--duration must be 0 or more seconds");
        }
        KernelFeatures k = KernelFeatures.probe();
        k.require(KernelFeatures.Feature.SOCKHASH);
        k.require(KernelFeatures.Feature.SK_MSG);
        k.require(KernelFeatures.Feature.SOCK_OPS);
        try (Cgroup cg = CgroupOption.open(cgroup); EgressPolicy policy = EgressPolicy.attach(cg)) {
            for (String c : deny) {
                policy.deny(c);
            }
            Runner.runUntilStopped("ready policy cgroup=" + cgroup + " deny=" + String.join(",", deny), duration,
                    () -> {
                        Counters.Snapshot s = policy.stats();
                        return "dropped " + s.droppedMessages() + " msgs / " + s.droppedBytes() + " B  passed "
                                + s.passedMessages() + " msgs";
                    });
            Counters.Snapshot s = policy.stats();
            System.out.println("stopped dropped_msgs=" + s.droppedMessages() + " passed_msgs=" + s.passedMessages());
        }
        return 0;
    }
}
