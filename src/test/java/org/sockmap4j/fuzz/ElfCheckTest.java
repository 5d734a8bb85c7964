package org.sockmap4j.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.function.Consumer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestReporter;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;
import org.sockmap4j.BpfObject;
import org.sockmap4j.internal.libbpf.ElfCheck;

/**
 * {@link ElfCheck}, the Java check in front of libbpf: intact objects pass, each damage it exists
 * for is refused with a reason, input that is no ELF is left to libbpf, and on any bytes it
 * answers instead of throwing. Pure Java: no root, no libbpf.
 */
class ElfCheckTest {

    static final java.util.List<String> OBJECTS = BpfObject.BUNDLED;

    private static String problem(byte[] b) {
        return ElfCheck.problem(MemorySegment.ofArray(b));
    }

    private static String damaged(String object, Consumer<ElfBytes> damage) {
        byte[] b = ElfMutator.bundled(object);
        damage.accept(new ElfBytes(b));
        return problem(b);
    }

    @ParameterizedTest
    @FieldSource("OBJECTS")
    void theBundledObjectsPass(String object) {
        assertThat(problem(ElfMutator.bundled(object))).isNull();
    }

    /**
     * The crash libbpf 1.1 has (found by {@link ElfFuzzTest}): a BTF variable whose type id does
     * not exist; libbpf reads it while collecting the BTF-defined maps and dereferences NULL.
     */
    @ParameterizedTest
    @FieldSource("OBJECTS")
    void aBtfVariableOfATypeThatDoesNotExistIsRefused(String object) {
        int[] id = new int[1];
        String why = damaged(object, e -> {
            int var = e.btfRecord(14, id); // BTF_KIND_VAR
            e.putU32(var + 8, e.btfTypes() + 1);
        });
        assertThat(why).contains(".BTF type " + id[0]).contains("refers to type");
    }

    @Test
    void otherDanglingBtfReferencesAreRefused() {
        int[] id = new int[1];
        assertThat(damaged("redirect", e -> e.putU32(e.btfRecord(4, id) + 12 + 4, 0x40000000))) // STRUCT member 0
                .contains("member 0").contains("refers to type 1073741824");
        assertThat(damaged("redirect", e -> e.putU32(e.btfRecord(3, id) + 12, 9999))) // ARRAY element type
                .contains("refers to type 9999");
        assertThat(damaged("redirect", e -> e.putU32(e.btfRecord(15, id) + 12, -1))) // DATASEC variable 0
                .contains("variable 0").contains("refers to type 4294967295");
        assertThat(damaged("redirect", e -> e.putU32(e.btfRecord(2, id) + 8, e.btfTypes() + 1))) // PTR
                .contains("refers to type");
        assertThat(damaged("redirect", e -> e.putU32(e.btfRecord(2, id) + 8, e.btfTypes()))) // the last type: fine
                .isNull();
    }

    @Test
    void btfNamesOutsideTheStringsAndUnknownKindsAreRefused() {
        int[] id = new int[1];
        assertThat(damaged("bypass", e -> e.putU32(e.btfRecord(14, id), e.btfStringsLength())))
                .contains("name outside the strings");
        assertThat(damaged("bypass", e -> e.putU32(e.btfRecord(4, id) + 12, e.btfStringsLength() + 7)))
                .contains("member 0 named outside the strings");
        assertThat(damaged("bypass", e -> {
            int t = e.btfRecord(2, id);
            e.putU32(t + 4, 31 << 24); // kind 31, which does not exist
        })).contains("unknown kind 31");
        assertThat(damaged("bypass", e -> e.putU32(e.btf() + 12, e.u32(e.btf() + 12) - 3))) // type_len cut mid-record
                .contains("truncated");
        assertThat(damaged("bypass", e -> e.putU16(e.btf(), 0x1234))).contains("magic");
        assertThat(damaged("bypass", e -> e.putU32(e.btf() + 20, 1 << 30))).contains("string section");
    }

    @Test
    void brokenSectionTablesAreRefused() {
        assertThat(damaged("bypass", e -> e.putU64(40, 1L << 40))).contains("section header table");
        assertThat(damaged("bypass", e -> e.putU16(60, 0xff00))).contains("does not fit");
        assertThat(damaged("bypass", e -> e.putU16(62, e.shnum()))).contains("section name table index");
        assertThat(damaged("bypass", e -> e.putU16(58, 40))).contains("e_shentsize");
        assertThat(damaged("bypass", e -> e.putU64(e.sectionHeader(".BTF") + 32, Long.MAX_VALUE)))
                .contains("lies outside");
        assertThat(damaged("bypass", e -> e.putU32(e.sectionHeader(".maps"), 1 << 20))).contains("name at offset");
        assertThat(damaged("bypass", e -> e.putU32(e.sectionHeader(".BTF") + 4, 8))).contains("SHT_NOBITS");
    }

    @Test
    void objectsForAnotherMachineOrOfAnotherTypeAreRefused() {
        assertThat(damaged("bypass", e -> e.putU16(18, 62))).contains("e_machine 62"); // EM_X86_64
        assertThat(damaged("bypass", e -> e.putU16(18, 0))).isNull(); // libbpf accepts EM_NONE
        assertThat(damaged("bypass", e -> e.putU16(16, 2))).contains("ET_REL"); // ET_EXEC
        byte[] b = ElfMutator.bundled("bypass");
        b[4] = 1; // ELFCLASS32
        assertThat(problem(b)).contains("64-bit");
    }

    @Test
    void inputThatIsNoElfOrInAnotherByteOrderIsLeftToLibbpf() {
        assertThat(problem(new byte[0])).isNull();
        assertThat(problem(new byte[200])).isNull();
        assertThat(problem("this is not an ELF object\n".repeat(10).getBytes())).isNull();
        byte[] b = ElfMutator.bundled("bypass");
        b[5] = 2; // ELFDATA2MSB: libbpf refuses the byte order itself
        assertThat(problem(b)).isNull();
    }

    /**
     * 20,000 seeded variants (the {@link ElfMutator} mutations) checked in this JVM: the check
     * always answers (null or a reason) and never throws, whatever the bytes.
     */
    @Test
    void theCheckAnswersForAnyBytes(TestReporter report) {
        ElfMutator mutator = ElfMutator.ofBundled();
        long base = new SplittableRandom(0xE1FC_4EC4L).nextLong();
        int refused = 0;
        int n = 20_000;
        for (int i = 0; i < n; i++) {
            long seed = ElfMutator.variantSeed(base, i);
            ElfMutator.Variant v = mutator.variant(seed);
            try {
                if (problem(v.bytes()) != null) {
                    refused++;
                }
            } catch (RuntimeException e) {
                throw new AssertionError("ElfCheck threw on variant seed " + ElfFuzzChild.hex(seed), e);
            }
        }
        String summary = "ElfCheck over " + n + " variants (base seed " + ElfFuzzChild.hex(base) + "): " + refused
                + " refused";
        report.publishEntry(summary);
        System.out.println("ElfCheckTest: " + summary);
        assertThat(refused).isPositive().isLessThan(n);
    }
}
