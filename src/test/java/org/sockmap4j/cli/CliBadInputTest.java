package org.sockmap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.BpfObject;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.internal.libbpf.Libbpf;
import org.sockmap4j.testing.BpfFs;
import org.sockmap4j.testing.ChildProcess;
import org.sockmap4j.testing.Exec;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TempBpfDir;
import org.sockmap4j.testing.TestCgroup;

/**
 * The CLI's bad input that CliErrorsTest and MapDumpCliTest do not cover, for the catalogue in
 * docs/bad-input.md: {@code map dump} of a pinned program, and the commands that need libbpf on
 * a system without it (a child JVM with {@code -Dsockmap4j.libbpf} naming no file), where
 * {@code probe} still works. Each failure is exit 1 and one line naming what failed and what to do.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
class CliBadInputTest {
    private static final String NO_LIBBPF = "-D" + Libbpf.LIBRARY_PROPERTY + "=/nonexistent/libbpf.so.1";

    /** Runs {@code sockmap ARGS...} in a JVM that cannot load libbpf. */
    private static Cli.Result runWithoutLibbpf(String... args) {
        List<String> cmd = ChildProcess.builder(Main.class.getName()).jvmArgs(NO_LIBBPF).args(args).command();
        Exec.Result r = Exec.run(new ProcessBuilder(cmd), Cli.T);
        return new Cli.Result(cmd, r.exitCode(), r.stdout(), r.stderr());
    }

    @Test
    @Timeout(60)
    void mapDumpOfAPinnedProgramIsExit1WithOneLine() {
        try (TempBpfDir dir = BpfFs.tempDir();
                BpfObject obj = BpfObject.openBundled("redirect").load();
                SkMsgProgram prog = obj.skMsg("msg_pass")) {
            Path pin = dir.resolve("prog");
            prog.pin(pin);
            Cli.assertOneLineError(Cli.run("map", "dump", pin.toString()), 1, "sockmap map dump: ",
                    pin + " holds a pinned program or link, not a map", "reads a pinned sockmap or sockhash");
        }
    }

    @Test
    @Timeout(60)
    void bypassWithoutLibbpfSaysWhatToInstallAndAttachesNothing() throws Exception {
        try (TestCgroup cg = TestCgroup.create()) {
            Cli.Result r = runWithoutLibbpf("bypass", "--cgroup", cg.path().toString(), "--duration", "1");
            Cli.assertOneLineError(r, 1, "sockmap bypass: this system lacks libbpf: ",
                    "/nonexistent/libbpf.so.1 (-Dsockmap4j.libbpf) cannot be loaded", "install libbpf 1.0+");
            Cli.assertNothingAttached(cg.path());
        }
    }

    @Test
    @Timeout(60)
    void spliceProxyWithoutLibbpfSaysWhatToInstall() {
        Cli.Result r = runWithoutLibbpf("proxy", "--mode", "splice", "--listen", "127.0.0.1:0", "--upstream",
                "127.0.0.1:9", "--duration", "1");
        Cli.assertOneLineError(r, 1, "sockmap proxy: this system lacks libbpf: ", "install libbpf 1.0+");
    }

    @Test
    @Timeout(60)
    void probeWithoutLibbpfStillRunsAndSaysWhyTheIteratorIsMissing() {
        Cli.Result r = runWithoutLibbpf("probe");
        assertThat(r.exit()).as("%s", r).isZero();
        assertThat(r.out()).as("%s", r).anyMatch(l -> l.matches("sockhash +yes .*"))
                .anyMatch(l -> l.matches("sockmap_iter +no .*") && l.contains("libbpf"));
    }
}
