package org.sockmap4j.reliability;

import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.sockmap4j.AttachType;
import org.sockmap4j.Cgroup;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.KernelFeatures.Feature;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TestCgroup;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a caller without privileges gets (run as user nobody through setpriv, so this test itself
 * needs root): typed {@link org.sockmap4j.PermissionException}s with EPERM from the kernel for
 * creating maps, loading programs and attaching to a cgroup, probes that report the BPF features
 * missing, and socket calls that need no privilege still working. With CAP_BPF and CAP_NET_ADMIN
 * the same user can create maps, load programs and attach to a cgroup it may open.
 */
@Privileged
@Timeout(120)
class UnprivilegedCallerTest {

    /** The feature names of a {@code ok [A,B]} probe line. */
    private static List<String> present(String line) {
        assertThat(line).startsWith("ok [").endsWith("]");
        String inner = line.substring(4, line.length() - 1);
        return inner.isEmpty() ? List.of() : List.of(inner.split(","));
    }

    @Test
    void withoutCapabilitiesBpfCallsFailWithEpermAndSocketCallsWork() {
        try (TestCgroup cg = TestCgroup.create()) {
            List<String> r = OtherUser.run(false, "create", "load", "attach:" + cg.path(), "cookie", "probe");
            assertThat(r.get(0)).isEqualTo("failed PermissionException EPERM");
            assertThat(r.get(1)).isEqualTo("failed PermissionException EPERM");
            assertThat(r.get(2)).isEqualTo("failed PermissionException EPERM");
            assertThat(r.get(3)).startsWith("ok ");
            assertThat(present(r.get(4))).doesNotContain(Feature.SOCKMAP.name(), Feature.SOCKHASH.name(),
                    Feature.SK_MSG.name(), Feature.SK_SKB.name(), Feature.SOCK_OPS.name());
        }
    }

    @Test
    void withCapBpfAndCapNetAdminMapsProgramsAndCgroupAttachmentsWork() throws Exception {
        try (TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path())) {
            List<String> r = OtherUser.run(true, "create", "load", "attach:" + cg.path(), "probe");
            assertThat(r.get(0)).startsWith("ok ");
            if (r.get(1).equals("failed VerifierException EACCES")) {
                // 6.1's verifier also wants CAP_PERFMON for these programs (6.18 does not): the
                // same calls must then work with it
                System.out.println("UnprivilegedCallerTest: CAP_BPF+CAP_NET_ADMIN could not load the bypass object "
                        + "(verifier EACCES); trying with CAP_PERFMON as well");
                r = OtherUser.runWithCaps("+bpf,+net_admin,+perfmon", "create", "load", "attach:" + cg.path(), "probe");
            }
            assertThat(r.get(1)).isEqualTo("ok BPF object 'bypass' (loaded)");
            String how = KernelFeatures.probe().has(Feature.CGROUP_LINK) ? "link" : "prog_attach";
            assertThat(r.get(2)).isEqualTo("ok " + how + " attached");
            assertThat(cgroup.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).as("closed by the child").isEmpty();
            assertThat(present(r.get(3))).contains(Feature.SOCKMAP.name(), Feature.SOCKHASH.name(), Feature.SK_MSG.name(),
                    Feature.SK_SKB.name(), Feature.SOCK_OPS.name());
        }
    }
}
