package org.sockmap4j.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@code sockmap proxy} child process for {@code bench proxy}: its own process, started in a
 * cgroup of its own so that its CPU time can be read ({@link ProxyCgroups}), and the byte count it
 * prints when stopped tells how much it moved.
 */
final class ProxyProcess implements RunningProxy {
    private static final Pattern READY = Pattern.compile("ready proxy listen=[^ ]*:(\\d+) ");
    /** The proxy's last line; more fields may follow (e.g. {@code spliced=N}). */
    private static final Pattern STOPPED = Pattern.compile("^stopped connections=(\\d+) bytes=(\\d+)(?: |$)");

    private final Process process;
    private final BufferedReader out;
    private final int port;

    /**
     * Starts {@code proxy --mode MODE [extra...]} in front of {@code upstreamPort}, its command
     * line prefixed by {@code launcher} (e.g. {@link ProxyCgroups.Member#launcher()}).
     */
    ProxyProcess(int upstreamPort, List<String> modeArgs, List<String> launcher) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(launcher);
        cmd.addAll(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                Main.class.getName(), "proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:" + upstreamPort));
        cmd.addAll(modeArgs);
        Path err = Files.createTempFile("sockmap4j-proxy", ".err");
        int listening;
        try {
            process = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
            out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine();
            Matcher m = line == null ? null : READY.matcher(line);
            if (m == null || !m.find()) {
                process.destroyForcibly();
                try {
                    process.waitFor(5, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                String why = Files.readString(err).strip();
                throw new Errors.UserError("the proxy did not start: "
                        + (why.isEmpty() ? String.valueOf(line) : why.lines().findFirst().orElse(why)));
            }
            listening = Integer.parseInt(m.group(1));
        } finally {
            Files.deleteIfExists(err); // the child keeps writing to its open file, if it lives on
        }
        port = listening;
    }

    @Override
    public int port() {
        return port;
    }

    /**
     * Stops the proxy (SIGTERM: it detaches and exits; SIGKILL if it still runs 15 s later) and
     * returns the bytes it says it moved, or -1.
     */
    @Override
    public long stop() throws IOException, InterruptedException {
        process.toHandle().destroy(); // SIGTERM; Process.destroy() would also close our end of its stdout
        Thread.ofVirtual().start(() -> { // a proxy that hangs on SIGTERM must not hang the bench reading its output
            try {
                if (!process.waitFor(15, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
            }
        });
        long bytes = -1;
        for (String line; (line = out.readLine()) != null;) {
            long b = reportedBytes(line);
            bytes = b >= 0 ? b : bytes;
        }
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
        return bytes;
    }

    /** The bytes in the proxy's {@code stopped connections=N bytes=M ...} line, or -1 for another line. */
    static long reportedBytes(String line) {
        Matcher m = STOPPED.matcher(line);
        return m.find() ? Long.parseLong(m.group(2)) : -1;
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
        }
    }
}
