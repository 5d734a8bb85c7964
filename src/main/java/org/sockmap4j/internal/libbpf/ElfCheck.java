package org.sockmap4j.internal.libbpf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Checks an object file in Java before libbpf parses it, so that a damaged file becomes an
 * exception instead of a crash of the JVM. libbpf 1.1 (Debian 12's libbpf1) dereferences the
 * result of {@code btf__type_by_id} without a NULL check while it reads BTF-defined maps, so a
 * {@code .BTF} section whose types refer to type ids that do not exist crashes the process
 * (found by {@code ElfFuzzTest}; libbpf added the same checks upstream in August 2023,
 * {@code btf_validate_type}, in a release after the one Debian 12 ships).
 *
 * <p>Checked: the ELF64 header (class, {@code e_type} ET_REL, {@code e_machine} EM_BPF or 0 as
 * libbpf accepts, {@code e_shentsize}), the section header table and every section's data lying
 * inside the file, section names inside {@code .shstrtab}, and the {@code .BTF} section: its
 * header, its string section (non-empty, starting and ending with NUL), every type record's kind
 * and size, every name offset inside the strings, and every referenced type id inside the
 * table. Files that are not ELF at all, or not in this machine's byte order, are left to libbpf,
 * which refuses them with {@code LIBBPF_ERRNO__FORMAT} without parsing further.
 */
public final class ElfCheck {
    private ElfCheck() {}

    private static final int EHDR_SIZE = 64;
    private static final int SHDR_SIZE = 64;
    private static final int ET_REL = 1;
    private static final int EM_BPF = 247;
    private static final int SHT_NOBITS = 8;
    private static final int SHN_XINDEX = 0xffff;
    private static final int BTF_MAGIC = 0xeB9F;
    private static final int BTF_HEADER_SIZE = 24;
    private static final int BTF_TYPE_SIZE = 12;
    /** The largest BTF kind libbpf 1.1 knows (BTF_KIND_ENUM64). */
    private static final int BTF_KIND_MAX = 19;

    /** Why {@code elf} must not be handed to libbpf, or null if it may be. */
    public static String problem(MemorySegment elf) {
        long size = elf.byteSize();
        if (size < EHDR_SIZE || elf.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), 0) != 0x7f454c46) {
            return null; // not ELF: libbpf refuses it before parsing anything
        }
        ByteOrder order = switch (elf.get(ValueLayout.JAVA_BYTE, 5)) {
            case 1 -> ByteOrder.LITTLE_ENDIAN;
            case 2 -> ByteOrder.BIG_ENDIAN;
            default -> null;
        };
        if (elf.get(ValueLayout.JAVA_BYTE, 4) != 2) {
            return "not a 64-bit ELF file (EI_CLASS " + elf.get(ValueLayout.JAVA_BYTE, 4) + ")";
        }
        if (order != ByteOrder.nativeOrder()) {
            return null; // libbpf refuses another byte order ("endianness mismatch") before parsing sections
        }
        try {
            return new Reader(elf, order).check();
        } catch (IndexOutOfBoundsException e) { // a bounds check above missed a case: still no crash
            return "malformed (" + e.getMessage() + ")";
        }
    }

    private static final class Reader {
        private final MemorySegment elf;
        private final long size;
        private final ValueLayout.OfShort u16;
        private final ValueLayout.OfInt u32;
        private final ValueLayout.OfLong u64;

        Reader(MemorySegment elf, ByteOrder order) {
            this.elf = elf;
            this.size = elf.byteSize();
            this.u16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(order);
            this.u32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(order);
            this.u64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(order);
        }

        int u16(long at) {
            return Short.toUnsignedInt(elf.get(u16, at));
        }

        long u32(long at) {
            return Integer.toUnsignedLong(elf.get(u32, at));
        }

        long u64(long at) {
            return elf.get(u64, at);
        }

        /** Whether [off, off + len) lies inside [0, limit), without overflow. */
        static boolean inside(long off, long len, long limit) {
            return off >= 0 && len >= 0 && off <= limit && len <= limit - off;
        }

        String check() {
            if (u16(16) != ET_REL) {
                return "not a relocatable object (e_type " + u16(16) + ", expected ET_REL 1)";
            }
            int machine = u16(18);
            if (machine != EM_BPF && machine != 0) {
                return "not a BPF object (e_machine " + machine + ", expected EM_BPF 247)";
            }
            long shoff = u64(40);
            long shnum = u16(60);
            long shstrndx = u16(62);
            if (shoff == 0) {
                return "no section header table (e_shoff 0)";
            }
            if (u16(58) != SHDR_SIZE) {
                return "e_shentsize is " + u16(58) + ", expected " + SHDR_SIZE;
            }
            if (!inside(shoff, SHDR_SIZE, size)) {
                return "the section header table at " + Long.toUnsignedString(shoff) + " lies outside the "
                        + size + "-byte file";
            }
            if (shnum == 0) {
                shnum = u64(shoff + 32); // more than 0xff00 sections: the count is section 0's sh_size
            }
            if (shstrndx == SHN_XINDEX) {
                shstrndx = u32(shoff + 40); // and the string table index its sh_link
            }
            if (shnum <= 0 || shnum > (size - shoff) / SHDR_SIZE) {
                return "the section header table (" + Long.toUnsignedString(shnum) + " entries at " + shoff
                        + ") does not fit in the " + size + "-byte file";
            }
            if (shstrndx == 0 || shstrndx >= shnum) {
                return "the section name table index " + shstrndx + " is not one of the " + shnum + " sections";
            }
            for (long i = 0; i < shnum; i++) {
                long h = shoff + i * SHDR_SIZE;
                if (u32(h + 4) != SHT_NOBITS && !inside(u64(h + 24), u64(h + 32), size)) {
                    return "section " + i + " (" + Long.toUnsignedString(u64(h + 32)) + " bytes at "
                            + Long.toUnsignedString(u64(h + 24)) + ") lies outside the " + size + "-byte file";
                }
            }
            long names = shoff + shstrndx * SHDR_SIZE;
            long namesOff = u64(names + 24);
            long namesSize = u64(names + 32);
            if (u32(names + 4) == SHT_NOBITS) {
                return "the section name table (section " + shstrndx + ") has no data in the file";
            }
            long btf = -1;
            for (long i = 1; i < shnum; i++) {
                long h = shoff + i * SHDR_SIZE;
                long name = u32(h);
                if (name >= namesSize) {
                    return "section " + i + " has its name at offset " + name + ", outside the " + namesSize
                            + "-byte section name table";
                }
                if (isName(namesOff + name, namesOff + namesSize, ".BTF")) {
                    btf = h;
                }
            }
            if (btf < 0) {
                return null;
            }
            if (u32(btf + 4) == SHT_NOBITS) {
                return "the .BTF section has no data in the file (SHT_NOBITS)";
            }
            return new Btf(this, u64(btf + 24), u64(btf + 32)).check();
        }

        /** Whether the NUL-terminated string at {@code at} (ending before {@code end}) equals {@code s}. */
        boolean isName(long at, long end, String s) {
            if (end - at < s.length() + 1) {
                return false;
            }
            for (int i = 0; i < s.length(); i++) {
                if (elf.get(ValueLayout.JAVA_BYTE, at + i) != s.charAt(i)) {
                    return false;
                }
            }
            return elf.get(ValueLayout.JAVA_BYTE, at + s.length()) == 0;
        }

        byte u8(long at) {
            return elf.get(ValueLayout.JAVA_BYTE, at);
        }
    }

    /** The {@code .BTF} section, as libbpf's btf_parse_hdr / btf_parse_str_sec / btf_validate_type read it. */
    private record Btf(Reader r, long off, long len) {
        String check() {
            if (len < BTF_HEADER_SIZE) {
                return ".BTF is " + len + " bytes, shorter than its header";
            }
            if (r.u16(off) != BTF_MAGIC) {
                return ".BTF has magic 0x" + Integer.toHexString(r.u16(off)) + ", expected 0xeb9f";
            }
            long hdrLen = r.u32(off + 4);
            long typeOff = r.u32(off + 8);
            long typeLen = r.u32(off + 12);
            long strOff = r.u32(off + 16);
            long strLen = r.u32(off + 20);
            if (hdrLen < BTF_HEADER_SIZE || hdrLen > len) {
                return ".BTF header length " + hdrLen + " does not fit its " + len + " bytes";
            }
            long data = off + hdrLen;
            long dataLen = len - hdrLen;
            if (!Reader.inside(typeOff, typeLen, dataLen) || !Reader.inside(strOff, strLen, dataLen)) {
                return ".BTF type or string section lies outside its " + dataLen + " bytes of data";
            }
            if (typeOff % 4 != 0) {
                return ".BTF type section is not 4-byte aligned (offset " + typeOff + ")";
            }
            long strs = data + strOff;
            if (strLen == 0 || r.u8(strs) != 0 || r.u8(strs + strLen - 1) != 0) {
                return ".BTF string section is empty or not NUL-delimited";
            }
            long types = data + typeOff;
            long end = types + typeLen;
            long count = 0;
            for (long t = types; t < end; count++) {
                long next = next(t, end);
                if (next < 0) {
                    return ".BTF type " + (count + 1) + " at offset " + (t - types) + " is " + (next == -1
                            ? "truncated" : "of unknown kind " + kind(t));
                }
                t = next;
            }
            long id = 1;
            for (long t = types; t < end; id++) {
                String bad = references(t, count, strLen);
                if (bad != null) {
                    return ".BTF type " + id + " (kind " + kind(t) + ") " + bad;
                }
                t = next(t, end);
            }
            return null;
        }

        int kind(long t) {
            return (int) (r.u32(t + 4) >>> 24) & 0x1f;
        }

        int vlen(long t) {
            return (int) (r.u32(t + 4) & 0xffff);
        }

        /** The offset after the type record at {@code t}; -1 if it does not fit, -2 for an unknown kind. */
        long next(long t, long end) {
            if (end - t < BTF_TYPE_SIZE) {
                return -1;
            }
            long vlen = vlen(t);
            long extra = switch (kind(t)) {
                case 1, 14, 17 -> 4; // INT, VAR, DECL_TAG
                case 2, 7, 8, 9, 10, 11, 12, 16, 18 -> 0; // PTR FWD TYPEDEF VOLATILE CONST RESTRICT FUNC FLOAT TYPE_TAG
                case 3 -> 12; // ARRAY
                case 4, 5, 15, 19 -> vlen * 12; // STRUCT UNION DATASEC ENUM64
                case 6, 13 -> vlen * 8; // ENUM FUNC_PROTO
                default -> -1;
            };
            if (extra < 0) {
                return -2;
            }
            return end - t - BTF_TYPE_SIZE < extra ? -1 : t + BTF_TYPE_SIZE + extra;
        }

        /** What is wrong with the names and type ids the record at {@code t} refers to, or null. */
        String references(long t, long count, long strLen) {
            if (r.u32(t) >= strLen) {
                return "has its name outside the strings";
            }
            long body = t + BTF_TYPE_SIZE;
            int vlen = vlen(t);
            switch (kind(t)) {
                case 2, 8, 9, 10, 11, 12, 14, 17, 18 -> { // the type field is a type id
                    return id(r.u32(t + 8), count);
                }
                case 3 -> {
                    String bad = id(r.u32(body), count);
                    return bad != null ? bad : id(r.u32(body + 4), count);
                }
                case 4, 5 -> {
                    for (int i = 0; i < vlen; i++) {
                        long m = body + i * 12L;
                        if (r.u32(m) >= strLen) {
                            return "has member " + i + " named outside the strings";
                        }
                        String bad = id(r.u32(m + 4), count);
                        if (bad != null) {
                            return "member " + i + ": " + bad;
                        }
                    }
                    return null;
                }
                case 13 -> {
                    String bad = id(r.u32(t + 8), count);
                    for (int i = 0; bad == null && i < vlen; i++) {
                        long p = body + i * 8L;
                        if (r.u32(p) >= strLen) {
                            return "has parameter " + i + " named outside the strings";
                        }
                        bad = id(r.u32(p + 4), count);
                    }
                    return bad;
                }
                case 15 -> {
                    for (int i = 0; i < vlen; i++) {
                        String bad = id(r.u32(body + i * 12L), count);
                        if (bad != null) {
                            return "variable " + i + ": " + bad;
                        }
                    }
                    return null;
                }
                case 6, 19 -> {
                    int step = kind(t) == 6 ? 8 : 12;
                    for (int i = 0; i < vlen; i++) {
                        if (r.u32(body + (long) i * step) >= strLen) {
                            return "has enumerator " + i + " named outside the strings";
                        }
                    }
                    return null;
                }
                default -> {
                    return null; // INT, FWD, FLOAT: no references
                }
            }
        }

        static String id(long id, long count) {
            return id > count ? "refers to type " + id + " of " + count : null;
        }
    }
}
