package org.sockmap4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.KernelFeatures.Feature;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code sockmap probe}: one row per feature with yes/no, and the same as JSON. */
@Privileged
@ExtendWith(FdLeakCheck.class)
class ProbeCliTest {
    /** The rows the issue names, in the order the CLI prints them. */
    private static final List<String> NAMED = List.of("sockmap", "sockhash", "sk_msg", "sk_skb", "sock_ops",
            "bpffs", "writable_cgroup2");

    private static final Pattern ROW = Pattern.compile("^(\\S+)\\s+(yes|no)\\s+(\\d+\\.\\d+)(?:\\s+(.*))?$");

    private static List<String> allFeatureNames() {
        return Arrays.stream(Feature.values()).map(f -> f.name().toLowerCase(Locale.ROOT)).toList();
    }

    private static String kernelRelease() throws Exception {
        return Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip();
    }

    /**
     * What the CLI must say: this process's probe, except for a bpffs mount, which is the
     * machine's state now rather than the kernel's (this JVM probed once and cached; on a fresh
     * machine an earlier test mounted /sys/fs/bpf after that, and the CLI's child saw it).
     */
    private static boolean expected(KernelFeatures k, Feature f) {
        return f == Feature.BPFFS ? bpfMounted() : k.has(f);
    }

    private static boolean bpfMounted() {
        try {
            return java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/mounts")).stream()
                    .map(l -> l.split(" ")).anyMatch(f -> f.length > 2 && f[2].equals("bpf"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    @Timeout(120)
    void listsEveryFeatureWithYesOrNo() throws Exception {
        org.sockmap4j.testing.BpfFs.ensureMounted(); // as the privileged tests do: a fresh machine has none
        Cli.Result r = Cli.run("probe");
        assertThat(r.exit()).as("%s", r).isZero();
        assertThat(r.stderr()).as("%s", r).isEmpty();
        List<String> lines = r.out();
        assertThat(lines.get(0)).isEqualTo("kernel " + kernelRelease());
        assertThat(lines.get(1).split("\\s+")).containsExactly("FEATURE", "OK", "SINCE", "DETAIL");

        Map<String, Boolean> rows = new LinkedHashMap<>();
        for (String line : lines.subList(2, lines.size())) {
            Matcher m = ROW.matcher(line);
            assertThat(m.matches()).as("feature row '%s'", line).isTrue();
            assertThat(rows.put(m.group(1), m.group(2).equals("yes"))).as("row %s printed twice", m.group(1)).isNull();
        }
        assertThat(rows.keySet()).containsExactlyElementsOf(allFeatureNames());
        assertThat(rows.keySet()).containsSubsequence(NAMED);

        // what the CLI says is what the library finds in this (test) process
        KernelFeatures k = KernelFeatures.probe();
        for (Feature f : Feature.values()) {
            assertThat(rows.get(f.name().toLowerCase(Locale.ROOT))).as("%s", f).isEqualTo(expected(k, f));
        }
        // the privileged tests run on a kernel that has the basics, so these must say yes
        for (String basic : List.of("sockmap", "sockhash", "sk_msg", "sock_ops", "bpffs", "writable_cgroup2")) {
            assertThat(rows.get(basic)).as(basic).isTrue();
        }
    }

    @Test
    @Timeout(120)
    void jsonIsOneObjectWithKernelAndFeatures() throws Exception {
        org.sockmap4j.testing.BpfFs.ensureMounted();
        Cli.Result r = Cli.run("probe", "--json");
        assertThat(r.exit()).as("%s", r).isZero();
        assertThat(r.stderr()).as("%s", r).isEmpty();
        assertThat(r.out()).as("one line of JSON").hasSize(1);
        String json = r.out().get(0);

        // the raw text, as a script with grep would see it
        int presentTrue = json.split("\"present\":true", -1).length - 1;
        int presentFalse = json.split("\"present\":false", -1).length - 1;
        assertThat(presentTrue + presentFalse).isEqualTo(Feature.values().length);
        assertThat(json).contains("\"sockmap\":{\"present\":true");

        // and parsed
        Map<String, Object> top = MiniJson.object(json);
        assertThat(top).containsOnlyKeys("kernel", "features");
        assertThat(top.get("kernel")).isEqualTo(kernelRelease());
        Map<String, Object> features = MiniJson.obj(top.get("features"));
        assertThat(features.keySet()).containsExactlyElementsOf(allFeatureNames());
        KernelFeatures k = KernelFeatures.probe();
        for (Feature f : Feature.values()) {
            Map<String, Object> e = MiniJson.obj(features.get(f.name().toLowerCase(Locale.ROOT)));
            assertThat(e).containsOnlyKeys("present", "since", "description", "detail");
            assertThat(e.get("present")).as("%s", f).isEqualTo(expected(k, f));
            assertThat(e.get("since")).isEqualTo(f.since());
            assertThat(e.get("description")).isEqualTo(f.description());
            assertThat(e.get("detail")).isInstanceOf(String.class);
        }
        assertThat(MiniJson.obj(features.get("sockmap")).get("present")).isEqualTo(true);
        assertThat(presentTrue).isEqualTo((int) Arrays.stream(Feature.values()).filter(f -> expected(k, f)).count());
    }
}
