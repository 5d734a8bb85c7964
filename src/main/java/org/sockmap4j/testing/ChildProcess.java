package org.sockmap4j.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A second JVM running a {@code main} class from the test classpath, for tests that need another
 * process (fd hand-over with {@code SCM_RIGHTS}, {@code pidfd_getfd}, a peer in a netns).
 *
 * <p>It runs the same {@code java} binary with the same classpath and
 * {@code --enable-native-access=ALL-UNNAMED}, plus every {@code sockmap4j.*} system property of
 * this JVM. Its standard output is read line by line ({@link #readLine(Duration)}); its standard
 * error is collected ({@link #stderr()}) and shown in failure messages; its standard input is a
 * pipe ({@link #writeLine(String)}). {@link #close()} kills it (SIGKILL) and waits for it.
 * It starts with SIGINT's default disposition even when this JVM ignores SIGINT (as a shell's
 * background job does, and its children inherit): tests signal their children, and a JVM that
 * starts with SIGINT ignored never handles it ({@code env --default-signal=INT}, coreutils 8.31+).
 *
 * <pre>{@code
 * try (ChildProcess child = ChildProcess.start(Peer.class, "arg")) {
 *     assertThat(child.readLine(Duration.ofSeconds(10))).isEqualTo("ready");
 *     child.writeLine("go");
 * }
 * }</pre>
 */
public final class ChildProcess implements AutoCloseable {

    private static final Object EOF = new Object();

    private final List<String> command;
    private final Process process;
    private final OutputStream stdin;
    private final BlockingQueue<Object> lines = new LinkedBlockingQueue<>();
    private final StringBuffer stderr = new StringBuffer();
    private final Thread stdoutReader;
    private final Thread stderrReader;
    private boolean closed;

    private ChildProcess(List<String> command, Process process) {
        this.command = command;
        this.process = process;
        this.stdin = process.getOutputStream();
        long pid = process.pid();
        this.stdoutReader = Thread.ofPlatform().daemon().name("child-" + pid + "-stdout")
                .start(() -> pump(process.getInputStream(), line -> lines.add(line), () -> lines.add(EOF)));
        this.stderrReader = Thread.ofPlatform().daemon().name("child-" + pid + "-stderr")
                .start(() -> pump(process.getErrorStream(), line -> stderr.append(line).append('\n'), () -> { }));
    }

    /** Starts {@code mainClass.main(args)} in a new JVM. */
    public static ChildProcess start(Class<?> mainClass, String... args) {
        return builder(mainClass.getName()).args(args).start();
    }

    /** Starts {@code mainClass.main(args)} in a new JVM inside the network namespace {@code ns}. */
    public static ChildProcess startIn(NetNs ns, Class<?> mainClass, String... args) {
        return builder(mainClass.getName()).netns(ns).args(args).start();
    }

    /** A builder for a child JVM running the named main class. */
    public static Builder builder(String mainClassName) {
        return new Builder(mainClassName);
    }

    /** Options for a child JVM; see {@link ChildProcess#builder(String)}. */
    public static final class Builder {
        private final String mainClass;
        private final List<String> args = new ArrayList<>();
        private final List<String> jvmArgs = new ArrayList<>();
        private NetNs netns;

        private Builder(String mainClass) {
            this.mainClass = mainClass;
        }

        /** Appends program arguments. */
        public Builder args(String... more) {
            args.addAll(List.of(more));
            return this;
        }

        /** Appends JVM options (placed before the main class). */
        public Builder jvmArgs(String... more) {
            jvmArgs.addAll(List.of(more));
            return this;
        }

        /** Runs the JVM inside this namespace ({@code ip netns exec}, which execs: same pid). */
        public Builder netns(NetNs ns) {
            this.netns = ns;
            return this;
        }

        /** The full command line that {@link #start()} runs. */
        public List<String> command() {
            List<String> cmd = new ArrayList<>();
            if (sigintIgnored()) {
                cmd.addAll(List.of("env", "--default-signal=INT"));
            }
            if (netns != null) {
                cmd.addAll(List.of("ip", "netns", "exec", netns.name()));
            }
            cmd.add(javaBinary());
            cmd.add("--enable-native-access=ALL-UNNAMED");
            cmd.add("-XX:+UseSerialGC");
            cmd.add("-XX:TieredStopAtLevel=1");
            cmd.add("-Xmx256m");
            for (Map.Entry<Object, Object> e : System.getProperties().entrySet()) {
                if (e.getKey() instanceof String key && key.startsWith("sockmap4j.")) {
                    cmd.add("-D" + key + "=" + e.getValue());
                }
            }
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
            cmd.addAll(jvmArgs);
            cmd.add(mainClass);
            cmd.addAll(args);
            return cmd;
        }

        /** Starts the child JVM. */
        public ChildProcess start() {
            List<String> cmd = command();
            try {
                return new ChildProcess(cmd, new ProcessBuilder(cmd).start());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot start " + cmd, e);
            }
        }

        /** Whether this process ignores SIGINT ({@code SigIgn} in /proc/self/status, bit 1 for signal 2). */
        static boolean sigintIgnored() {
            try {
                for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                    if (line.startsWith("SigIgn:")) {
                        return (Long.parseUnsignedLong(line.substring(7).strip(), 16) & 0b10) != 0;
                    }
                }
            } catch (IOException | NumberFormatException e) {
                // no procfs: assume the default
            }
            return false;
        }

        private static String javaBinary() {
            return ProcessHandle.current().info().command()
                    .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        }
    }

    /** The child's pid (also when started in a netns: {@code ip netns exec} execs java). */
    public long pid() {
        return process.pid();
    }

    /** The underlying process. */
    public Process process() {
        return process;
    }

    /** The command line it was started with. */
    public List<String> command() {
        return command;
    }

    /**
     * The next line the child printed on standard output, waiting up to {@code timeout}.
     *
     * @throws AssertionError if no line came in time or the child's output ended (the message
     *                        includes its exit status and standard error)
     */
    public String readLine(Duration timeout) {
        Object next;
        try {
            next = lines.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while waiting for a line from child " + pid(), e);
        }
        if (next == null) {
            throw new AssertionError("child " + pid() + " printed no line within " + timeout + describe());
        }
        if (next == EOF) {
            lines.add(EOF); // keep failing fast on later reads
            awaitExit(Duration.ofSeconds(2));
            throw new AssertionError("child " + pid() + " closed its output" + describe());
        }
        return (String) next;
    }

    /** Writes a line (plus '\n') to the child's standard input and flushes. */
    public void writeLine(String line) {
        try {
            stdin.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            stdin.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write to child " + pid() + describe(), e);
        }
    }

    /** What the child has printed on standard error so far. */
    public String stderr() {
        return stderr.toString();
    }

    /** Whether the child is still running. */
    public boolean isAlive() {
        return process.isAlive();
    }

    /**
     * Waits for the child to exit by itself.
     *
     * @return its exit status
     * @throws AssertionError if it is still running after {@code timeout}
     */
    public int waitFor(Duration timeout) {
        if (!awaitExit(timeout)) {
            throw new AssertionError("child " + pid() + " still running after " + timeout + describe());
        }
        return process.exitValue();
    }

    private boolean awaitExit(Duration timeout) {
        try {
            return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private String describe() {
        String status = process.isAlive() ? "still running" : "exit status " + process.exitValue();
        String err = stderr().strip();
        return " (" + status + (err.isEmpty() ? "" : "; stderr:\n" + err) + ")";
    }

    /** Kills the child (SIGKILL) if it still runs, waits for it and releases its pipes. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        process.destroyForcibly();
        awaitExit(Duration.ofSeconds(10));
        closeQuietly(stdin);
        join(stdoutReader);
        join(stderrReader);
        closeQuietly(process.getInputStream());
        closeQuietly(process.getErrorStream());
    }

    private static void join(Thread t) {
        try {
            t.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // nothing to do
        }
    }

    private static void pump(InputStream in, java.util.function.Consumer<String> sink, Runnable atEnd) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                sink.accept(line);
            }
        } catch (IOException ignored) {
            // stream closed
        } finally {
            atEnd.run();
        }
    }

    @Override
    public String toString() {
        return "ChildProcess[pid=" + process.pid() + ", " + command + "]";
    }
}
