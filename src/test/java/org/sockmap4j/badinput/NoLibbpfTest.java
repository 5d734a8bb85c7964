package org.sockmap4j.badinput;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.sockmap4j.AttachType;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Cgroup;
import org.sockmap4j.internal.libbpf.Libbpf;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TestCgroup;

/**
 * libbpf missing from the system: a child JVM runs with {@code -Dsockmap4j.libbpf} naming a file
 * that does not exist, so loading libbpf fails exactly as when it is not installed (dlopen finds
 * nothing). Maps still work there (created, filled, looked up in the kernel); every entry point
 * that needs libbpf throws {@link org.sockmap4j.NotSupportedException} saying what to install;
 * the probe still runs; the JVM exits normally. One child runs every scenario ({@link NoLibbpfPeer}).
 */
@Privileged
@Timeout(120)
class NoLibbpfTest {
    private static final String MISSING = "/nonexistent/libbpf.so.1";
    private static final String INSTALL = MISSING + " (-D" + Libbpf.LIBRARY_PROPERTY + ") cannot be loaded";

    private static TestCgroup cgroup;
    private static Path dir;
    private static ChildJvm.Run run;

    @BeforeAll
    static void runTheChild() throws IOException {
        cgroup = TestCgroup.create();
        dir = Files.createTempDirectory(Path.of("/tmp"), "sm4j-nolibbpf");
        Path object = dir.resolve("bypass.bpf.o");
        try (InputStream in = BpfObject.class.getResourceAsStream("/org/sockmap4j/bpf/bypass.bpf.o")) {
            Files.write(object, in.readAllBytes());
        }
        run = ChildJvm.run(List.of(), NoLibbpfPeer.class, List.of("-D" + Libbpf.LIBRARY_PROPERTY + "=" + MISSING),
                object.toString(), cgroup.path().toString());
    }

    @AfterAll
    static void cleanUp() throws IOException {
        if (cgroup != null) {
            cgroup.close();
        }
        if (dir != null) {
            Files.deleteIfExists(dir.resolve("bypass.bpf.o"));
            Files.deleteIfExists(dir);
        }
    }

    private static void assertSaysWhatToInstall(Outcome o, String operation) {
        assertThat(o.type()).as("%s", o).isEqualTo("NotSupportedException");
        assertThat(o.errno()).isEqualTo("ENOSYS");
        assertThat(o.operation()).isEqualTo(operation);
        assertThat(o.object()).isEqualTo("libbpf");
        assertThat(o.hint()).contains(INSTALL).contains("install libbpf 1.0+ (apt-get install libbpf1");
        assertThat(o.message()).startsWith(operation + " on libbpf: ENOSYS (");
    }

    @Test
    void theChildJvmExitsNormally() {
        run.assertExitedNormally();
    }

    @Test
    void mapsStillWork() {
        Outcome o = run.of("map");
        assertThat(o.type()).as("%s", o).isEqualTo("ok");
        assertThat(o.message()).isEqualTo("cookies true true id true");
    }

    @Test
    void openingABundledObjectSaysWhatToInstall() {
        assertSaysWhatToInstall(run.of("openBundled"), "bpf_object__open_mem");
    }

    @Test
    void openingAnObjectFileSaysWhatToInstall() {
        assertSaysWhatToInstall(run.of("openFile"), "bpf_object__open_file");
    }

    @Test
    void aRecipeSaysWhatToInstallAndAttachesNothing() {
        assertSaysWhatToInstall(run.of("recipe"), "bpf_object__open_mem");
        try (Cgroup cg = Cgroup.open(cgroup.path())) {
            assertThat(cg.attachedPrograms(AttachType.CGROUP_SOCK_OPS)).isEmpty();
        }
    }

    @Test
    void theSplicerSaysWhatToInstall() {
        assertSaysWhatToInstall(run.of("splicer"), "bpf_object__open_mem");
    }

    @Test
    void theProbeStillRunsAndNamesLibbpfForTheIterator() {
        Outcome o = run.of("probe");
        assertThat(o.type()).as("%s", o).isEqualTo("ok");
        assertThat(o.message()).startsWith("sockhash true; sockmap_iter Status[present=false")
                .contains(INSTALL);
    }
}
