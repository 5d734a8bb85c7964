package org.sockmap4j.fuzz;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.sockmap4j.BpfObject;

/**
 * Makes damaged variants of the BPF objects bundled in the jar, each from one 64-bit seed: the
 * seed picks the object and one to three mutations (bit flips, byte runs, truncation, swapped
 * section headers, section header / ELF header / symbol / relocation fields set to boundary
 * values, damage confined to one section). The same seed always gives the same bytes, so any
 * variant can be replayed ({@link ElfFuzzChild} {@code --seed}). A batch derives each variant's
 * seed from a base seed and the variant's index ({@link #variantSeed}).
 */
final class ElfMutator {

    /** One variant: which object, what was done to it, and the resulting bytes. */
    record Variant(long seed, String object, String mutations, byte[] bytes) {}

    private static final int EHDR_SIZE = 64;
    private static final int SHDR_SIZE = 64;
    private static final int SYM_SIZE = 24;
    private static final int REL_SIZE = 16;
    private static final int SHT_SYMTAB = 2;
    private static final int SHT_REL = 9;

    private final List<String> names;
    private final List<byte[]> originals;

    private ElfMutator(List<String> names, List<byte[]> originals) {
        this.names = names;
        this.originals = originals;
    }

    /** A mutator over every object in {@link BpfObject#BUNDLED}, read from the classpath. */
    static ElfMutator ofBundled() {
        List<byte[]> bytes = new ArrayList<>();
        for (String name : BpfObject.BUNDLED) {
            bytes.add(bundled(name));
        }
        return new ElfMutator(BpfObject.BUNDLED, bytes);
    }

    /** The bytes of the bundled object {@code name} (one of {@link BpfObject#BUNDLED}). */
    static byte[] bundled(String name) {
        String res = "/org/sockmap4j/bpf/" + name + ".bpf.o";
        try (InputStream in = ElfMutator.class.getResourceAsStream(res)) {
            if (in == null) {
                throw new IllegalStateException(res + " is not on the classpath (built without clang?)");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The seed of variant {@code index} of a batch with {@code baseSeed} (a SplitMix64 step). */
    static long variantSeed(long baseSeed, long index) {
        long z = baseSeed + (index + 1) * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The variant made from {@code seed}. */
    Variant variant(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int which = rnd.nextInt(names.size());
        byte[] b = originals.get(which).clone();
        int count = 1 + (rnd.nextInt(4) == 0 ? 1 + rnd.nextInt(2) : 0); // mostly one, sometimes 2-3
        StringBuilder what = new StringBuilder();
        for (int i = 0; i < count; i++) {
            if (i > 0) {
                what.append('+');
            }
            b = mutate(b, rnd, what);
        }
        return new Variant(seed, names.get(which), what.toString(), b);
    }

    private static byte[] mutate(byte[] b, SplittableRandom rnd, StringBuilder what) {
        if (b.length == 0) {
            what.append("none(empty)");
            return b;
        }
        int kind = rnd.nextInt(9);
        switch (kind) {
            case 0 -> {
                int flips = 1 + rnd.nextInt(16);
                for (int i = 0; i < flips; i++) {
                    int bit = rnd.nextInt(b.length * 8);
                    b[bit >>> 3] ^= (byte) (1 << (bit & 7));
                }
                what.append("bitflips(").append(flips).append(')');
            }
            case 1 -> {
                int at = rnd.nextInt(b.length);
                int len = Math.min(b.length - at, 1 + rnd.nextInt(64));
                fill(b, at, len, rnd);
                what.append("run(").append(at).append(',').append(len).append(')');
            }
            case 2 -> {
                int len = rnd.nextInt(4) == 0 ? rnd.nextInt(Math.min(b.length, 2 * EHDR_SIZE)) : rnd.nextInt(b.length);
                byte[] cut = new byte[len];
                System.arraycopy(b, 0, cut, 0, len);
                what.append("truncate(").append(len).append(')');
                return cut;
            }
            case 3 -> {
                Elf e = Elf.of(b);
                if (e == null || e.shnum < 2) {
                    what.append("shdrswap(none)");
                    break;
                }
                int i = rnd.nextInt(e.shnum);
                int j = rnd.nextInt(e.shnum);
                byte[] tmp = new byte[SHDR_SIZE];
                System.arraycopy(b, e.shdr(i), tmp, 0, SHDR_SIZE);
                System.arraycopy(b, e.shdr(j), b, e.shdr(i), SHDR_SIZE);
                System.arraycopy(tmp, 0, b, e.shdr(j), SHDR_SIZE);
                what.append("shdrswap(").append(i).append(',').append(j).append(')');
            }
            case 4 -> {
                Elf e = Elf.of(b);
                if (e == null || e.shnum < 1) {
                    what.append("shdrfield(none)");
                    break;
                }
                int s = rnd.nextInt(e.shnum);
                int[][] fields = {{0, 4}, {4, 4}, {8, 8}, {24, 8}, {32, 8}, {40, 4}, {44, 4}, {48, 8}, {56, 8}};
                int[] f = fields[rnd.nextInt(fields.length)];
                long v = interesting(rnd, b.length, e.shnum);
                put(b, e.shdr(s) + f[0], f[1], v);
                what.append("shdrfield(").append(s).append('@').append(f[0]).append('=').append(v).append(')');
            }
            case 5 -> {
                int[][] fields = {{4, 1}, {5, 1}, {16, 2}, {18, 2}, {32, 8}, {40, 8}, {52, 2}, {58, 2}, {60, 2}, {62, 2}};
                int[] f = fields[rnd.nextInt(fields.length)];
                if (b.length < f[0] + f[1]) {
                    what.append("ehdrfield(short)");
                    break;
                }
                long v = interesting(rnd, b.length, 64);
                put(b, f[0], f[1], v);
                what.append("ehdrfield(").append(f[0]).append('=').append(v).append(')');
            }
            case 6 -> {
                Elf e = Elf.of(b);
                int s = e == null || e.shnum < 2 ? -1 : 1 + rnd.nextInt(e.shnum - 1);
                long off = s < 0 ? -1 : e.shOffset(s);
                long size = s < 0 ? 0 : e.shSize(s);
                if (off < 0 || size <= 0 || off > b.length || size > b.length - off) {
                    what.append("section(none)");
                    break;
                }
                int n = 1 + rnd.nextInt(8);
                for (int i = 0; i < n; i++) {
                    int at = (int) (off + rnd.nextLong(size));
                    if (rnd.nextBoolean()) {
                        b[at] ^= (byte) (1 << rnd.nextInt(8));
                    } else {
                        fill(b, at, (int) Math.min(off + size - at, 1 + rnd.nextInt(8)), rnd);
                    }
                }
                what.append("section(").append(s).append(",x").append(n).append(')');
            }
            case 7, 8 -> {
                Elf e = Elf.of(b);
                int type = kind == 7 ? SHT_SYMTAB : SHT_REL;
                int entry = kind == 7 ? SYM_SIZE : REL_SIZE;
                List<Integer> sections = e == null ? List.of() : e.sectionsOfType(type);
                if (sections.isEmpty()) {
                    what.append(kind == 7 ? "sym(none)" : "rel(none)");
                    break;
                }
                int s = sections.get(rnd.nextInt(sections.size()));
                long off = e.shOffset(s);
                long entries = e.shSize(s) / entry;
                if (off < 0 || entries <= 0 || off > b.length || entries > (b.length - off) / entry) {
                    what.append(kind == 7 ? "sym(bad)" : "rel(bad)");
                    break;
                }
                long idx = rnd.nextLong(entries);
                // symbol: st_name, st_info, st_other, st_shndx, st_value, st_size; rel: r_offset, r_info (sym<<32|type)
                int[][] fields = kind == 7 ? new int[][] {{0, 4}, {4, 1}, {5, 1}, {6, 2}, {8, 8}, {16, 8}}
                        : new int[][] {{0, 8}, {8, 4}, {12, 4}};
                int[] f = fields[rnd.nextInt(fields.length)];
                long v = interesting(rnd, b.length, (int) Math.min(entries, Integer.MAX_VALUE));
                put(b, (int) (off + idx * entry) + f[0], f[1], v);
                what.append(kind == 7 ? "sym(" : "rel(").append(s).append('#').append(idx).append('@').append(f[0])
                        .append('=').append(v).append(')');
            }
            default -> throw new AssertionError(kind);
        }
        return b;
    }

    /** A boundary value for a field: 0, 1, all ones, sign bits, around the file size or a count. */
    private static long interesting(SplittableRandom rnd, int fileSize, int count) {
        return switch (rnd.nextInt(10)) {
            case 0 -> 0;
            case 1 -> 1;
            case 2 -> -1;
            case 3 -> 0x7fffffffL;
            case 4 -> 0x80000000L;
            case 5 -> fileSize + rnd.nextInt(-8, 9);
            case 6 -> count + rnd.nextInt(-2, 3);
            case 7 -> rnd.nextInt(Math.max(1, fileSize));
            case 8 -> 0xffffL;
            default -> rnd.nextLong();
        };
    }

    private static void fill(byte[] b, int at, int len, SplittableRandom rnd) {
        int mode = rnd.nextInt(4);
        byte one = (byte) rnd.nextInt(256);
        for (int i = at; i < at + len; i++) {
            b[i] = switch (mode) {
                case 0 -> 0;
                case 1 -> (byte) 0xff;
                case 2 -> one;
                default -> (byte) rnd.nextInt(256);
            };
        }
    }

    /** Writes the low {@code size} bytes of {@code v} little-endian at {@code at}, if they fit. */
    private static void put(byte[] b, int at, int size, long v) {
        if (at < 0 || at + size > b.length) {
            return;
        }
        for (int i = 0; i < size; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }

    /** Just enough of an ELF64 little-endian header to find sections; null if it is not one. */
    private record Elf(ByteBuffer buf, long shoff, int shnum) {
        static Elf of(byte[] b) {
            if (b.length < EHDR_SIZE || b[4] != 2 || b[5] != 1) {
                return null;
            }
            ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
            long shoff = buf.getLong(40);
            int shnum = Short.toUnsignedInt(buf.getShort(60));
            if (shoff < EHDR_SIZE || shoff + (long) shnum * SHDR_SIZE > b.length) {
                return null;
            }
            return new Elf(buf, shoff, shnum);
        }

        int shdr(int i) {
            return (int) (shoff + (long) i * SHDR_SIZE);
        }

        long shOffset(int i) {
            return buf.getLong(shdr(i) + 24);
        }

        long shSize(int i) {
            return buf.getLong(shdr(i) + 32);
        }

        List<Integer> sectionsOfType(int type) {
            List<Integer> out = new ArrayList<>();
            for (int i = 0; i < shnum; i++) {
                if (buf.getInt(shdr(i) + 4) == type) {
                    out.add(i);
                }
            }
            return out;
        }
    }
}
