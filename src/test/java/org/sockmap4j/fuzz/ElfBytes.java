package org.sockmap4j.fuzz;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Finds places in a well-formed ELF64 little-endian BPF object, so that tests can damage exactly
 * one field: a section header by name, and a {@code .BTF} type record by kind. Read independently
 * of the library's {@code ElfCheck}; assumes the input is intact.
 */
final class ElfBytes {
    private final byte[] b;
    private final ByteBuffer buf;

    ElfBytes(byte[] b) {
        this.b = b;
        this.buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    int u32(int at) {
        return buf.getInt(at);
    }

    ElfBytes putU16(int at, int v) {
        buf.putShort(at, (short) v);
        return this;
    }

    ElfBytes putU32(int at, int v) {
        buf.putInt(at, v);
        return this;
    }

    ElfBytes putU64(int at, long v) {
        buf.putLong(at, v);
        return this;
    }

    int shoff() {
        return (int) buf.getLong(40);
    }

    int shnum() {
        return Short.toUnsignedInt(buf.getShort(60));
    }

    /** Offset of the section header named {@code name}. */
    int sectionHeader(String name) {
        int names = (int) buf.getLong(shoff() + Short.toUnsignedInt(buf.getShort(62)) * 64 + 24);
        for (int i = 0; i < shnum(); i++) {
            int h = shoff() + i * 64;
            int at = names + buf.getInt(h);
            StringBuilder s = new StringBuilder();
            while (b[at] != 0) {
                s.append((char) b[at++]);
            }
            if (s.toString().equals(name)) {
                return h;
            }
        }
        throw new AssertionError("no section " + name);
    }

    /** Offset of the {@code .BTF} section's data. */
    int btf() {
        return (int) buf.getLong(sectionHeader(".BTF") + 24);
    }

    /** Offset of the first {@code .BTF} type record of {@code kind}, and its type id in {@code id[0]}. */
    int btfRecord(int kind, int[] id) {
        int off = btf();
        int t = off + buf.getInt(off + 4) + buf.getInt(off + 8);
        int end = t + buf.getInt(off + 12);
        for (int n = 1; t < end; n++, t += recordSize(t)) {
            if (((buf.getInt(t + 4) >>> 24) & 0x1f) == kind) {
                id[0] = n;
                return t;
            }
        }
        throw new AssertionError("no BTF type of kind " + kind);
    }

    /** The number of {@code .BTF} types. */
    int btfTypes() {
        int off = btf();
        int t = off + buf.getInt(off + 4) + buf.getInt(off + 8);
        int end = t + buf.getInt(off + 12);
        int n = 0;
        for (; t < end; t += recordSize(t)) {
            n++;
        }
        return n;
    }

    /** Size of the type record at {@code t}: 12 bytes plus what its kind appends. */
    private int recordSize(int t) {
        int info = buf.getInt(t + 4);
        int vlen = info & 0xffff;
        return 12 + switch ((info >>> 24) & 0x1f) {
            case 1, 14, 17 -> 4; // INT, VAR, DECL_TAG
            case 3 -> 12; // ARRAY
            case 4, 5, 15, 19 -> vlen * 12; // STRUCT, UNION, DATASEC, ENUM64
            case 6, 13 -> vlen * 8; // ENUM, FUNC_PROTO
            default -> 0;
        };
    }

    /** The length of the {@code .BTF} string section. */
    int btfStringsLength() {
        return buf.getInt(btf() + 20);
    }
}
