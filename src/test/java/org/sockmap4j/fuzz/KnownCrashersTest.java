package org.sockmap4j.fuzz;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.sockmap4j.BpfObject;
import org.sockmap4j.internal.libbpf.Libbpf;

/**
 * Objects that crashed the JVM inside libbpf 1.1 before {@code ElfCheck} existed now end in a
 * {@code BpfException}: opened from bytes and from a file by {@link ElfFuzzChild} in a child JVM
 * (a regression kills the child, not this JVM). Opening needs no root.
 */
@Timeout(120)
class KnownCrashersTest {

    /**
     * Variant seeds that killed the fuzz child in libbpf 1.1.2 ({@code skip_mods_and_typedefs},
     * NULL from {@code btf__type_by_id}) before the check, with the bundled objects as built on
     * 2025-12-05 (clang 14). Other compilers make other bytes, so these are replayed for survival
     * only; {@link #aBtfVariableOfATypeThatDoesNotExist} makes the crash independently of the bytes.
     */
    static final List<Long> SEEDS = List.of(0x5e4bebec7379455cL, 0xd3c4d30994a2fb8dL, 0xb78f3926a62be141L,
            0xed5f4658607e18faL, 0x0db6ad0a495481e7L, 0x598d98f17558a824L, 0xc09d2af3a39e2ed3L, 0x32c950ff42ad9e3aL);

    @Test
    void aBtfVariableOfATypeThatDoesNotExist(@TempDir Path dir) throws IOException {
        assumeTrue(Libbpf.unavailableReason() == null, Libbpf.unavailableReason());
        List<String> files = new ArrayList<>();
        for (String object : BpfObject.BUNDLED) {
            byte[] b = ElfMutator.bundled(object);
            ElfBytes e = new ElfBytes(b);
            e.putU32(e.btfRecord(14, new int[1]) + 8, e.btfTypes() + 1); // the first VAR's type
            files.add(Files.write(dir.resolve(object + "-dangling-var.o"), b).toString());
        }
        List<FuzzBatch.Outcome> out = FuzzBatch.run(Collections.nCopies(files.size(), 0L),
                "--files", String.join(",", files), "--no-load");
        assertThat(out).hasSize(BpfObject.BUNDLED.size()).allSatisfy(o -> {
            assertThat(o.check()).as("%s", o).isEqualTo("refused");
            assertThat(o.bytes()).as("%s", o).isEqualTo("BpfException(UNKNOWN)");
            assertThat(o.file()).as("%s", o).isEqualTo("BpfException(UNKNOWN)");
        });
    }

    @Test
    void theSeedsThatCrashedLibbpf() {
        assumeTrue(Libbpf.unavailableReason() == null, Libbpf.unavailableReason());
        List<String> seeds = SEEDS.stream().map(ElfFuzzChild::hex).toList();
        List<FuzzBatch.Outcome> out = FuzzBatch.run(SEEDS, "--seeds", String.join(",", seeds), "--no-load");
        assertThat(out).hasSize(SEEDS.size()).allSatisfy(o -> {
            assertThat(FuzzBatch.typed(o.bytes())).as("%s", o).isTrue();
            assertThat(FuzzBatch.typed(o.file())).as("%s", o).isTrue();
        });
    }
}
