package org.sockmap4j.reliability;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.sockmap4j.testing.ChildProcess;
import org.sockmap4j.testing.Exec;
import org.sockmap4j.testing.Nobody;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Runs {@link CallerPeer} as user {@code nobody} (uid 65534, no groups) through {@code setpriv},
 * optionally with CAP_BPF and CAP_NET_ADMIN as ambient capabilities (what a service granted "BPF
 * rights" has), and returns its result lines. Run by root.
 */
final class OtherUser {
    private OtherUser() {}

    /** The result line per action, in order. */
    static List<String> run(boolean bpfCaps, String... actions) {
        return runWithCaps(bpfCaps ? "+bpf,+net_admin" : "", actions);
    }

    /** As {@link #run}, with these capabilities (setpriv's syntax, e.g. "+bpf,+net_admin"; "" for none). */
    static List<String> runWithCaps(String caps, String... actions) {
        List<String> cmd = new ArrayList<>(Nobody.withCapabilities(caps));
        cmd.addAll(ChildProcess.builder(CallerPeer.class.getName()).args(actions).command());
        Exec.Result r = Exec.run(new ProcessBuilder(cmd), Duration.ofSeconds(60));
        assertThat(r.exitCode()).as("%s; stderr: %s", cmd, r.stderr()).isZero();
        List<String> lines = r.stdout().lines().toList();
        assertThat(lines).as("stderr: %s", r.stderr()).hasSize(actions.length);
        return lines;
    }
}
