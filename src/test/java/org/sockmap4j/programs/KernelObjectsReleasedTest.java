package org.sockmap4j.programs;

import java.util.HashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.Cgroup;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.recipes.EgressPolicy;
import org.sockmap4j.recipes.IngressPolicy;
import org.sockmap4j.recipes.LocalBypass;
import org.sockmap4j.testing.Exec;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TestCgroup;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * After every handle is closed, no program, map or link the recipes created is left in the kernel
 * (compared with bpftool's view before and after).
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
class KernelObjectsReleasedTest {
    private static final Pattern ID = Pattern.compile("\"id\":(\\d+)");

    private static Set<Integer> ids(String kind) {
        String json = Exec.check("bpftool", "-j", kind, "show");
        Set<Integer> out = new HashSet<>();
        Matcher m = ID.matcher(json);
        while (m.find()) {
            out.add(Integer.parseInt(m.group(1)));
        }
        return out;
    }

    private static Set<Integer> created(Set<Integer> before, Set<Integer> after) {
        Set<Integer> s = new HashSet<>(after);
        s.removeAll(before);
        return s;
    }

    @Test
    @Timeout(60)
    void recipesLeaveNothingBehind() throws Exception {
        Set<Integer> progs = ids("prog");
        Set<Integer> maps = ids("map");
        Set<Integer> links = ids("link");
        try (TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path())) {
            try (LocalBypass bypass = LocalBypass.attach(cgroup);
                 EgressPolicy egress = EgressPolicy.attach(cgroup).deny("192.0.2.0/24");
                 IngressPolicy ingress = IngressPolicy.create()) {
                assertThat(created(progs, ids("prog"))).hasSizeGreaterThanOrEqualTo(5);
                // LocalBypass and EgressPolicy: a sock_ops link on the cgroup and an sk_msg link on
                // their map each, where the kernel has those links (else PROG_ATTACH, no link)
                KernelFeatures k = KernelFeatures.probe();
                int expected = (k.has(KernelFeatures.Feature.CGROUP_LINK) ? 2 : 0)
                        + (k.has(KernelFeatures.Feature.SOCKMAP_LINK) ? 2 : 0);
                assertThat(created(links, ids("link"))).hasSizeGreaterThanOrEqualTo(expected);
            }
        }
        // the kernel frees programs and maps asynchronously (RCU); give it a bounded moment
        for (int i = 0; i < 50 && !(created(progs, ids("prog")).isEmpty() && created(maps, ids("map")).isEmpty()
                && created(links, ids("link")).isEmpty()); i++) {
            Thread.sleep(100);
        }
        assertThat(created(progs, ids("prog"))).isEmpty();
        assertThat(created(maps, ids("map"))).isEmpty();
        assertThat(created(links, ids("link"))).isEmpty();
    }
}
