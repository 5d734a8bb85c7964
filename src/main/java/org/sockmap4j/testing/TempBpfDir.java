package org.sockmap4j.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * A uniquely named directory on bpffs for one test; {@link #close()} unlinks every pin and
 * directory under it, then the directory itself. Use it with try-with-resources, or let
 * {@link TempBpfDirExtension} inject and close it.
 *
 * <pre>{@code
 * try (TempBpfDir dir = BpfFs.tempDir()) {
 *     Path pin = dir.resolve("my_map");   // bpffs names may not contain '.'
 *     ...
 * }
 * }</pre>
 */
public final class TempBpfDir implements AutoCloseable {

    private final Path path;
    private boolean closed;

    private TempBpfDir(Path path) {
        this.path = path;
    }

    /** Creates a new directory {@code sockmap4j_<random>} under {@link BpfFs#ensureMounted()}. */
    public static TempBpfDir create() {
        Path root = BpfFs.ensureMounted();
        for (int attempt = 0; ; attempt++) {
            Path dir = root.resolve("sockmap4j_" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong()));
            try {
                return new TempBpfDir(Files.createDirectory(dir));
            } catch (java.nio.file.FileAlreadyExistsException e) {
                if (attempt > 10) {
                    throw new UncheckedIOException(e);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create a directory on bpffs " + root, e);
            }
        }
    }

    /** The directory. */
    public Path path() {
        return path;
    }

    /** {@code path().resolve(name)}: where to pin an object. bpffs names may not contain '.'. */
    public Path resolve(String name) {
        return path.resolve(name);
    }

    /**
     * Unlinks everything under the directory (deepest first) and the directory itself. Idempotent.
     *
     * @throws IllegalStateException if something could not be removed
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        List<Path> entries;
        try (Stream<Path> walk = Files.walk(path)) {
            entries = walk.sorted(Comparator.reverseOrder()).toList();
        } catch (NoSuchFileException e) {
            return;
        } catch (IOException | UncheckedIOException e) {
            throw new IllegalStateException("cannot list " + path, e);
        }
        List<String> failures = new ArrayList<>();
        for (Path p : entries) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                failures.add(p + ": " + e);
            }
        }
        if (!failures.isEmpty()) {
            throw new IllegalStateException("could not remove from bpffs: " + failures);
        }
    }

    @Override
    public String toString() {
        return path.toString();
    }
}
