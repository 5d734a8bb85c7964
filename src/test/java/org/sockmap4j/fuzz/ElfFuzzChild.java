package org.sockmap4j.fuzz;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.sockmap4j.BpfException;
import org.sockmap4j.BpfObject;
import org.sockmap4j.internal.libbpf.ElfCheck;

/**
 * Feeds damaged object files to the loader, in a JVM of its own so that a crash in native code
 * (libbpf, libelf) cannot take the test JVM down. For each variant it opens the bytes
 * ({@link BpfObject#open(byte[], String)}) and the same bytes written to a file
 * ({@link BpfObject#open(Path)}), loads whichever opened ({@link BpfObject#load()}, needs root)
 * and prints one line:
 * <pre>
 * V &lt;index&gt; &lt;seed&gt; &lt;object&gt; &lt;mutations&gt; check=&lt;ok|refused&gt; bytes=&lt;outcome&gt; file=&lt;outcome&gt; load=&lt;outcome&gt;
 * </pre>
 * {@code check} is what {@link ElfCheck} (the Java pre-check in front of libbpf) says; an
 * outcome is {@code ok}, {@code loaded}, {@code -} (not tried) or the exception's simple class
 * name, with the errno for a {@link BpfException} ({@code BpfException(EINVAL)}). A batch ends
 * with {@code done <count>}. Seeds print as 16 hex digits with {@code 0x}.
 *
 * <p>Usage (seeds in decimal or {@code 0x} hex):
 * <ul>
 *   <li>{@code --base <seed> --from <index> --count <n>}: variants {@code index .. index+n-1} of
 *       the batch with that base seed ({@link ElfMutator#variantSeed});</li>
 *   <li>{@code --seeds <seed>,<seed>,...}: replays these variant seeds (index = position);</li>
 *   <li>{@code --seed <seed> [--write <file>]}: replays one variant and saves its bytes;</li>
 *   <li>{@code --files <path>,...}: these files as they are (seed 0, mutations {@code as-is});</li>
 *   <li>{@code --no-load}: only open; {@code --describe}: only print object and mutations;</li>
 *   <li>{@code --dir <directory>}: where to write each variant (left in place; by default a
 *       temporary directory this child removes when it ends normally).</li>
 * </ul>
 */
public final class ElfFuzzChild {
    private ElfFuzzChild() {}

    /** The file each variant is written to, in the child's directory. */
    static final String VARIANT_FILE = "variant.o";

    public static void main(String[] args) throws IOException {
        Long base = null;
        List<Long> seeds = new ArrayList<>();
        List<Path> files = new ArrayList<>();
        long from = 0;
        long count = 0;
        Path write = null;
        Path dirGiven = null;
        boolean describe = false;
        boolean load = true;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--describe" -> describe = true;
                case "--no-load" -> load = false;
                case "--base" -> base = parseSeed(args[++i]);
                case "--from" -> from = Long.parseLong(args[++i]);
                case "--count" -> count = Long.parseLong(args[++i]);
                case "--seed" -> seeds.add(parseSeed(args[++i]));
                case "--seeds" -> {
                    for (String s : args[++i].split(",")) {
                        seeds.add(parseSeed(s.strip()));
                    }
                }
                case "--files" -> {
                    for (String f : args[++i].split(",")) {
                        files.add(Path.of(f));
                    }
                }
                case "--write" -> write = Path.of(args[++i]);
                case "--dir" -> dirGiven = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if ((base != null ? 1 : 0) + (seeds.isEmpty() ? 0 : 1) + (files.isEmpty() ? 0 : 1) != 1) {
            System.err.println("usage: ElfFuzzChild --base <seed> --from <index> --count <n>"
                    + " | --seed <seed> [--write <file>] | --seeds <seed>,... | --files <path>,..."
                    + " [--no-load] [--describe]");
            System.exit(2);
        }
        ElfMutator mutator = ElfMutator.ofBundled();
        // FuzzBatch passes a directory it removes itself, also when this JVM is killed or crashes
        Path dir = dirGiven != null ? dirGiven : Files.createTempDirectory("sockmap4j-fuzz");
        PrintStream out = System.out;
        try {
            long n = base != null ? count : files.isEmpty() ? seeds.size() : files.size();
            for (long i = 0; i < n; i++) {
                long index = base != null ? from + i : i;
                ElfMutator.Variant v = !files.isEmpty() ? asIs(files.get((int) i))
                        : mutator.variant(base != null ? ElfMutator.variantSeed(base, index) : seeds.get((int) i));
                if (write != null) {
                    Files.write(write, v.bytes());
                }
                String head = "V " + index + " " + hex(v.seed()) + " " + v.object() + " " + v.mutations();
                out.println(describe ? head : head + " " + run(v, dir, load));
                out.flush();
            }
            out.println("done " + n);
            out.flush();
        } finally {
            Files.deleteIfExists(dir.resolve(VARIANT_FILE));
            if (dirGiven == null) {
                Files.deleteIfExists(dir);
            }
        }
    }

    /** A file taken as it is, as a variant with seed 0. */
    private static ElfMutator.Variant asIs(Path file) throws IOException {
        return new ElfMutator.Variant(0, file.getFileName().toString(), "as-is", Files.readAllBytes(file));
    }

    static long parseSeed(String s) {
        return s.startsWith("0x") ? Long.parseUnsignedLong(s.substring(2), 16) : Long.parseLong(s);
    }

    static String hex(long seed) {
        return String.format("0x%016x", seed);
    }

    private static String run(ElfMutator.Variant v, Path dir, boolean load) throws IOException {
        Path file = dir.resolve(VARIANT_FILE);
        Files.write(file, v.bytes());
        String check = ElfCheck.problem(MemorySegment.ofArray(v.bytes())) == null ? "ok" : "refused";
        BpfObject fromBytes = null;
        BpfObject fromFile = null;
        String bytes;
        String path;
        String loaded = "-";
        try {
            try {
                fromBytes = BpfObject.open(v.bytes(), "fuzz-" + hex(v.seed()));
                bytes = "ok";
            } catch (RuntimeException e) {
                bytes = outcome(e);
            }
            try {
                fromFile = BpfObject.open(file);
                path = "ok";
            } catch (RuntimeException e) {
                path = outcome(e);
            }
            BpfObject toLoad = fromBytes != null ? fromBytes : fromFile;
            if (load && toLoad != null) {
                try {
                    toLoad.load();
                    loaded = "loaded";
                } catch (RuntimeException e) {
                    loaded = outcome(e);
                }
            }
        } finally {
            if (fromBytes != null) {
                fromBytes.close();
            }
            if (fromFile != null) {
                fromFile.close();
            }
        }
        return "check=" + check + " bytes=" + bytes + " file=" + path + " load=" + loaded;
    }

    private static String outcome(RuntimeException e) {
        String name = e.getClass().getSimpleName();
        if (e instanceof BpfException b) {
            return name + "(" + b.errno() + ")";
        }
        if (!(e instanceof IllegalArgumentException || e instanceof IllegalStateException)) {
            e.printStackTrace(); // unexpected: the parent fails and shows standard error
        }
        return name;
    }
}
