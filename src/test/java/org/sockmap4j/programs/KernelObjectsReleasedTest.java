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
import org.sockmap4j.testing.KernelIds;
import org.sockmap4j.testing.KernelIds.Kind;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TestCgroup;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * After every handle is closed, no program, map or link the recipes created is left in the kernel.
 * The recipes' objects are those this process holds fds of while they are open (their ids from
 * /proc/self/fdinfo) and did not before; afterwards bpftool must not list any of them. Only this
 * process's objects count: other programs loading BPF on the machine at the same time (a build
 * next door) cannot fail it, as comparing the machine's whole id lists did.
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

    /** The ids of the BPF objects of {@code kind} this process holds an fd of. */
    private static Set<Integer> own(Kind kind) {
        return KernelIds.held().get(kind);
    }

    private static Set<Integer> minus(Set<Integer> a, Set<Integer> b) {
        Set<Integer> s = new HashSet<>(a);
        s.removeAll(b);
        return s;
    }

    /** Which of {@code ids} the kernel still lists. */
    private static Set<Integer> stillThere(String kind, Set<Integer> ids) {
        Set<Integer> s = new HashSet<>(ids);
        s.retainAll(ids(kind));
        return s;
    }

    @Test
    @Timeout(60)
    void recipesLeaveNothingBehind() throws Exception {
        Set<Integer> progsBefore = own(Kind.PROG);
        Set<Integer> mapsBefore = own(Kind.MAP);
        Set<Integer> linksBefore = own(Kind.LINK);
        Set<Integer> progs;
        Set<Integer> maps;
        Set<Integer> links;
        try (TestCgroup cg = TestCgroup.create(); Cgroup cgroup = Cgroup.open(cg.path())) {
            try (LocalBypass bypass = LocalBypass.attach(cgroup);
                 EgressPolicy egress = EgressPolicy.attach(cgroup).deny("192.0.2.0/24");
                 IngressPolicy ingress = IngressPolicy.create()) {
                progs = minus(own(Kind.PROG), progsBefore);
                maps = minus(own(Kind.MAP), mapsBefore);
                links = minus(own(Kind.LINK), linksBefore);
                assertThat(progs).hasSizeGreaterThanOrEqualTo(5);
                assertThat(maps).as("the recipes' maps").isNotEmpty();
                assertThat(ids("prog")).as("the kernel lists them").containsAll(progs);
                // LocalBypass and EgressPolicy: a sock_ops link on the cgroup and an sk_msg link on
                // their map each, where the kernel has those links (else PROG_ATTACH, no link)
                KernelFeatures k = KernelFeatures.probe();
                int expected = (k.has(KernelFeatures.Feature.CGROUP_LINK) ? 2 : 0)
                        + (k.has(KernelFeatures.Feature.SOCKMAP_LINK) ? 2 : 0);
                assertThat(links).hasSizeGreaterThanOrEqualTo(expected);
            }
        }
        // the kernel frees programs and maps asynchronously (RCU); give it a bounded moment
        for (int i = 0; i < 50 && !(stillThere("prog", progs).isEmpty() && stillThere("map", maps).isEmpty()
                && stillThere("link", links).isEmpty()); i++) {
            Thread.sleep(100);
        }
        assertThat(stillThere("prog", progs)).isEmpty();
        assertThat(stillThere("map", maps)).isEmpty();
        assertThat(stillThere("link", links)).isEmpty();
    }
}
