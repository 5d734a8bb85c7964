package org.sockmap4j.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.sockmap4j.testing.ChildProcess;
import org.sockmap4j.testing.Exec;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Runs the {@code sockmap} CLI ({@link Main}) as a separate JVM, the way a user or a script does,
 * and the kernel-side checks the CLI tests share (bpftool's view of a cgroup).
 */
final class Cli {
    private Cli() {}

    /** How long a CLI process gets for a line or to exit. */
    /** How long a child may take to answer: generous, for slow machines and TCG guests (scripts/vmtest.sh). */
    static final Duration T = Duration.ofSeconds(60);

    /** The command line that runs {@code sockmap ARGS...} (same java and classpath as this JVM). */
    static List<String> command(String... args) {
        return ChildProcess.builder(Main.class.getName()).args(args).command();
    }

    /** Starts a long-running command; the caller owns (and closes) the process. */
    static ChildProcess start(String... args) {
        return ChildProcess.builder(Main.class.getName()).args(args).start();
    }

    /**
     * What a finished command did.
     *
     * @param command the command line
     * @param exit    its exit status
     * @param stdout  standard output
     * @param stderr  standard error
     */
    record Result(List<String> command, int exit, String stdout, String stderr) {
        List<String> out() {
            return stdout.lines().toList();
        }

        List<String> err() {
            return stderr.lines().toList();
        }

        @Override
        public String toString() {
            return "`" + String.join(" ", command.subList(Math.max(0, command.indexOf(Main.class.getName())),
                    command.size())) + "` exited " + exit + "\n--- stdout:\n" + stdout + "--- stderr:\n" + stderr;
        }
    }

    /** Runs {@code sockmap ARGS...} to completion (killed after {@code timeout}). */
    static Result run(Duration timeout, String... args) {
        return runWith(List.of(), timeout, args);
    }

    /** Runs {@code sockmap ARGS...} with a 30 s limit. */
    static Result run(String... args) {
        return run(T, args);
    }

    /** Runs {@code PREFIX... java ... Main ARGS...} (e.g. under setpriv) to completion. */
    static Result runWith(List<String> prefix, Duration timeout, String... args) {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(command(args));
        Exec.Result r = Exec.run(new ProcessBuilder(cmd), timeout);
        return new Result(cmd, r.exitCode(), r.stdout(), r.stderr());
    }

    /**
     * Asserts the contract for errors: exit status {@code code}, nothing on stdout, exactly one
     * line on stderr (no stack trace) that starts with "sockmap " and contains every fragment.
     *
     * @return the line
     */
    static String assertOneLineError(Result r, int code, String... fragments) {
        assertThat(r.exit()).as("exit status of %s", r).isEqualTo(code);
        assertThat(r.stdout()).as("stdout of %s", r).isEmpty();
        assertThat(r.err()).as("stderr of %s", r).hasSize(1);
        String line = r.err().get(0);
        assertThat(line).as("stderr of %s", r).startsWith("sockmap ").doesNotStartWith("\tat ")
                .doesNotContain("Exception");
        for (String f : fragments) {
            assertThat(line).as("stderr of %s", r).contains(f);
        }
        return line;
    }

    /** Asserts a usage error: exit 2, first stderr line names the problem, usage follows, no trace. */
    /**
     * A usage error: exit 2, nothing on stdout, and on stderr the error, named after the command,
     * then one line pointing at that command's --help (a "Did you mean" line may come between).
     */
    static void assertUsageError(Result r, String command, String error) {
        assertThat(r.exit()).as("exit status of %s", r).isEqualTo(2);
        assertThat(r.stdout()).as("stdout of %s", r).isEmpty();
        assertThat(r.err()).as("stderr of %s", r).hasSizeBetween(2, 3);
        assertThat(r.err().get(0)).as("stderr of %s", r).isEqualTo(command + ": " + error);
        assertThat(r.err().get(r.err().size() - 1)).as("stderr of %s", r)
                .isEqualTo("Try '" + command + " --help' for more information.");
    }

    /**
     * Sends a signal ("INT", "TERM", ...) to a process with kill(1). Not {@code Process.destroy()}:
     * besides sending SIGTERM it closes this side's pipes, so the child's last lines would be lost.
     */
    static void signal(ChildProcess p, String sig) {
        Exec.check("kill", "-" + sig, Long.toString(p.pid()));
    }

    /**
     * Waits for a running child to exit after it was told to stop, closes it (which also drains
     * its standard error), and returns its exit status.
     */
    static int exitStatus(ChildProcess p, Duration timeout) {
        int code = p.waitFor(timeout);
        p.close();
        return code;
    }

    /**
     * The ids of the sock_ops programs attached to a cgroup: BPF_PROG_QUERY on the directory
     * (Linux 4.15+). Not {@code bpftool cgroup show}: bpftool 7.1 queries every attach type it
     * knows and exits 255 on kernels that do not know them all (5.10).
     */
    static List<Integer> sockOpsIds(Path cgroup) {
        try (org.sockmap4j.Cgroup cg = org.sockmap4j.Cgroup.open(cgroup)) {
            return cg.attachedPrograms(org.sockmap4j.AttachType.CGROUP_SOCK_OPS);
        }
    }

    private static final Pattern PROG_NAME = Pattern.compile("\"name\":\"([^\"]*)\"");

    /** The single sock_ops program attached to the cgroup, with its name ({@code bpftool prog show id N}). */
    static Optional<Program> sockOpsProgram(Path cgroup) {
        List<Integer> ids = sockOpsIds(cgroup);
        if (ids.isEmpty()) {
            return Optional.empty();
        }
        assertThat(ids).as("only one sock_ops program on %s", cgroup).hasSize(1);
        Matcher m = PROG_NAME.matcher(Exec.check("bpftool", "-j", "prog", "show", "id", ids.get(0).toString()));
        assertThat(m.find()).as("name in bpftool's prog output").isTrue();
        return Optional.of(new Program(ids.get(0), m.group(1)));
    }

    /** A program as bpftool shows it. */
    record Program(int id, String name) {}

    /** Asserts that, within a few seconds, the cgroup has no program attached any more. */
    static void assertNothingAttached(Path cgroup) throws InterruptedException {
        List<Integer> ids = sockOpsIds(cgroup);
        for (int i = 0; i < 50 && !ids.isEmpty(); i++) {
            TimeUnit.MILLISECONDS.sleep(100);
            ids = sockOpsIds(cgroup);
        }
        assertThat(ids).as("sock_ops programs on %s", cgroup).isEmpty();
    }

    /** Whether the kernel still has a program with this id ({@code bpftool prog show id N}). */
    static boolean programExists(int id) {
        return Exec.run("bpftool", "prog", "show", "id", Integer.toString(id)).ok();
    }

    /** Waits up to five seconds for the kernel to free a program (release is asynchronous). */
    static void assertProgramGone(int id) throws InterruptedException {
        for (int i = 0; i < 50 && programExists(id); i++) {
            TimeUnit.MILLISECONDS.sleep(100);
        }
        assertThat(programExists(id)).as("program %d still in the kernel", id).isFalse();
    }

    /** The number in {@code name=NUMBER} in a line like {@code stopped a=1 b=2}. */
    static long field(String line, String name) {
        Matcher m = Pattern.compile("(?:^|\\s)" + Pattern.quote(name) + "=(\\d+)(?:\\s|$)").matcher(line);
        assertThat(m.find()).as("%s= in '%s'", name, line).isTrue();
        return Long.parseLong(m.group(1));
    }
}
