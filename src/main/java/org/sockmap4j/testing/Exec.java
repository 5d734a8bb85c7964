package org.sockmap4j.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a short external command ({@code ip}, {@code mount}, ...) to completion and captures its
 * output. Standard input is {@code /dev/null}; standard output and error go to temporary files,
 * so no pipe is left open in this process and no reader thread is needed.
 */
public final class Exec {

    /** Default time limit for {@link #run(String...)} and {@link #check(String...)}. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

    private Exec() {
    }

    /**
     * The outcome of a finished command.
     *
     * @param command  the command line
     * @param exitCode its exit status
     * @param stdout   what it printed on standard output
     * @param stderr   what it printed on standard error
     */
    public record Result(List<String> command, int exitCode, String stdout, String stderr) {

        /** Whether the command exited with status 0. */
        public boolean ok() {
            return exitCode == 0;
        }

        /** Returns this result if the command exited with 0, else throws {@link IllegalStateException}. */
        public Result check() {
            if (exitCode != 0) {
                throw new IllegalStateException(String.join(" ", command) + " exited with " + exitCode
                        + (stderr.isBlank() ? "" : ": " + stderr.strip()));
            }
            return this;
        }
    }

    /** Runs the command with {@link #DEFAULT_TIMEOUT}; a non-zero exit is returned, not thrown. */
    public static Result run(String... command) {
        return run(new ProcessBuilder(command), DEFAULT_TIMEOUT);
    }

    /** Runs the command with {@link #DEFAULT_TIMEOUT}; a non-zero exit is returned, not thrown. */
    public static Result run(List<String> command) {
        return run(new ProcessBuilder(command), DEFAULT_TIMEOUT);
    }

    /** Runs the command and returns its standard output; throws if it exits non-zero. */
    public static String check(String... command) {
        return run(command).check().stdout();
    }

    /**
     * Runs the given builder's command (its redirects are replaced) and waits for it.
     *
     * @throws IllegalStateException if it cannot be started or does not finish in time (it is then
     *                               killed)
     */
    public static Result run(ProcessBuilder builder, Duration timeout) {
        Path out = null;
        Path err = null;
        try {
            out = Files.createTempFile("sockmap4j-exec", ".out");
            err = Files.createTempFile("sockmap4j-exec", ".err");
            builder.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile());
            Process process = builder.start();
            try {
                if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(5, TimeUnit.SECONDS);
                    throw new IllegalStateException(String.join(" ", builder.command())
                            + " did not finish within " + timeout + "; killed it");
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while running " + builder.command(), e);
            }
            return new Result(List.copyOf(builder.command()), process.exitValue(),
                    Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("could not run " + builder.command(), e);
        } finally {
            deleteQuietly(out);
            deleteQuietly(err);
        }
    }

    private static void deleteQuietly(Path file) {
        if (file != null) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException ignored) {
                // a temp file left behind is harmless
            }
        }
    }
}
