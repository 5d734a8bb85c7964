package org.sockmap4j.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import org.sockmap4j.Cgroup;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.recipes.BypassScope;
import org.sockmap4j.recipes.LocalBypass;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code sockmap bypass}: local TCP bypass for one or more cgroups. */
@Command(name = "bypass", description = "Bypass the TCP/IP stack between local TCP sockets of the processes "
        + "in cgroup v2 directories (sock_ops + sk_msg redirect), until SIGINT/SIGTERM or --duration. Sockets "
        + "whose peer is not in these cgroups are never touched.")
final class BypassCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--cgroup", required = true, paramLabel = "DIR", description = "cgroup v2 directory "
            + "(repeatable: connections between processes of any two of them are bypassed; sub-cgroups are "
            + "included).")
    List<Path> cgroups;

    @Option(names = "--ports", paramLabel = "LIST", description = "Only connections to these server ports, "
            + "e.g. 6379,8000-8100.")
    String ports;

    @Option(names = "--cidr", paramLabel = "CIDR", description = "Only connections whose two addresses lie in "
            + "this prefix, e.g. 10.0.0.0/24 (repeatable).")
    List<String> cidrs;

    @Option(names = "--duration", paramLabel = "SECONDS", description = "Stop after this many seconds (default: "
            + "run until interrupted).")
    long duration;

    @Option(names = "--json", description = "Print the counters as one JSON object per second on stdout, and "
            + "a last one when stopped.")
    boolean json;

    @Option(names = "--verbose", description = "Print stack traces on errors.")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        BypassScope scope = scope();
        Privileges.require("sockmap bypass");
        if (duration < 0) {
            throw new Errors.UserError("--duration must be 0 or more seconds");
        }
        KernelFeatures k = KernelFeatures.probe();
        k.require(KernelFeatures.Feature.SOCKHASH);
        k.require(KernelFeatures.Feature.SK_MSG);
        k.require(KernelFeatures.Feature.SOCK_OPS);
        List<Cgroup> open = new ArrayList<>();
        try {
            LocalBypass.Builder b = LocalBypass.builder().scope(scope);
            for (Path p : cgroups) {
                Cgroup cg = CgroupOption.open(p);
                open.add(cg);
                try {
                    b.cgroup(cg);
                } catch (IllegalArgumentException e) {
                    throw new Errors.UserError(e.getMessage());
                }
            }
            try (LocalBypass bypass = b.attach()) {
                Runner.runUntilStopped(ready(scope), duration,
                        () -> line(bypass.stats()),
                        json ? () -> System.out.println(json(bypass.stats(), false)) : null);
                LocalBypass.Stats s = bypass.stats();
                System.out.println(json ? json(s, true) : "stopped " + keyValues(s));
            }
        } finally {
            for (Cgroup cg : open) {
                cg.close();
            }
        }
        return 0;
    }

    private String ready(BypassScope scope) {
        StringBuilder sb = new StringBuilder("ready bypass cgroup=");
        for (int i = 0; i < cgroups.size(); i++) {
            sb.append(i == 0 ? "" : ",").append(cgroups.get(i));
        }
        if (scope.restrictsPorts()) {
            sb.append(" ports=").append(scope.portList());
        }
        if (!scope.cidrs().isEmpty()) {
            sb.append(" cidrs=").append(String.join(",", scope.cidrs().stream().map(Object::toString).toList()));
        }
        return sb.toString();
    }

    private BypassScope scope() {
        BypassScope s = BypassScope.all();
        try {
            if (ports != null) {
                s = s.ports(ports);
            }
            if (cidrs != null && !cidrs.isEmpty()) {
                for (String c : cidrs) {
                    Cidrs.check(c);
                }
                s = s.cidrs(cidrs.toArray(String[]::new));
            }
        } catch (IllegalArgumentException | Errors.UserError e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        return s;
    }

    static String line(LocalBypass.Stats s) {
        return "sockets " + s.sockets() + "  redirected " + s.redirectedMessages() + " msgs / " + s.redirectedBytes()
                + " B  passed " + s.passedMessages() + " msgs / " + s.passedBytes() + " B  left alone "
                + s.socketsNotLocal() + "  out of scope " + s.synsOutOfScope() + "  fell back " + s.socketsFellBack();
    }

    static String keyValues(LocalBypass.Stats s) {
        return "redirected_msgs=" + s.redirectedMessages() + " redirected_bytes=" + s.redirectedBytes()
                + " passed_msgs=" + s.passedMessages() + " passed_bytes=" + s.passedBytes() + " sockets=" + s.sockets()
                + " sockets_inserted=" + s.socketsInserted() + " sockets_not_local=" + s.socketsNotLocal()
                + " syns_out_of_scope=" + s.synsOutOfScope() + " sockets_fell_back=" + s.socketsFellBack();
    }

    static String json(LocalBypass.Stats s, boolean stopped) {
        return "{\"stopped\":" + stopped + ",\"sockets\":" + s.sockets() + ",\"redirected_msgs\":"
                + s.redirectedMessages() + ",\"redirected_bytes\":" + s.redirectedBytes() + ",\"passed_msgs\":"
                + s.passedMessages() + ",\"passed_bytes\":" + s.passedBytes() + ",\"sockets_inserted\":"
                + s.socketsInserted() + ",\"sockets_not_local\":" + s.socketsNotLocal() + ",\"syns_out_of_scope\":"
                + s.synsOutOfScope() + ",\"sockets_fell_back\":" + s.socketsFellBack() + "}";
    }
}
