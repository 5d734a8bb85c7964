package org.sockmap4j.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestReporter;
import org.junit.jupiter.api.Timeout;
import org.sockmap4j.testing.Privileged;

/**
 * Damaged BPF objects fed to the loader never crash the JVM: {@link ElfMutator} makes variants of
 * the bundled objects (bit flips, byte runs, truncations, swapped section headers, header, symbol
 * and relocation fields set to boundary values), and {@link ElfFuzzChild} opens each from bytes
 * and from a file and loads it, in child JVMs of {@value #BATCH} variants each. Every variant must
 * produce a line, every exception must be a typed one, and every child must exit normally.
 *
 * <p>Seeds: {@code -Dsockmap4j.fuzz.seed=<n>|random} (default {@value #DEFAULT_SEED}) is the base
 * seed, printed in the report; variant {@code i} uses {@link ElfMutator#variantSeed}(base, i),
 * and a failure names the seed of the variant that killed the child. Count:
 * {@code -Dsockmap4j.fuzz.variants} (default {@value #DEFAULT_VARIANTS}). Loading needs root.
 */
@Privileged
class ElfFuzzTest {

    static final long DEFAULT_SEED = 0x5EED_0B1EL;
    static final int DEFAULT_VARIANTS = 1_000;
    static final int BATCH = 250;

    static long baseSeed() {
        String s = System.getProperty("sockmap4j.fuzz.seed", Long.toString(DEFAULT_SEED));
        return s.equals("random") ? ThreadLocalRandom.current().nextLong() : ElfFuzzChild.parseSeed(s);
    }

    @Test
    @Timeout(600)
    void damagedObjectsEndInTypedExceptionsNotInACrash(TestReporter report) {
        long base = baseSeed();
        int variants = Integer.getInteger("sockmap4j.fuzz.variants", DEFAULT_VARIANTS);
        report.publishEntry("fuzz base seed", ElfFuzzChild.hex(base) + " (" + variants + " variants, batches of "
                + BATCH + ")");
        long start = System.nanoTime();
        List<FuzzBatch.Outcome> all = new ArrayList<>();
        for (int from = 0; from < variants; from += BATCH) {
            int count = Math.min(BATCH, variants - from);
            List<Long> seeds = new ArrayList<>();
            for (int i = from; i < from + count; i++) {
                seeds.add(ElfMutator.variantSeed(base, i));
            }
            all.addAll(FuzzBatch.run(seeds, "--base", ElfFuzzChild.hex(base), "--from", Integer.toString(from),
                    "--count", Integer.toString(count)));
        }
        long millis = (System.nanoTime() - start) / 1_000_000;

        Map<String, Integer> tally = new TreeMap<>();
        for (FuzzBatch.Outcome o : all) {
            for (String outcome : List.of(o.bytes(), o.file(), o.load())) {
                assertThat(FuzzBatch.typed(outcome)).as("an expected outcome: %s", o).isTrue();
            }
            if (o.check().equals("refused")) {
                // what the Java check refuses never reaches libbpf, from bytes or from a file
                assertThat(o.bytes()).as("%s", o).isEqualTo("BpfException(UNKNOWN)");
                assertThat(o.file()).as("%s", o).isEqualTo("BpfException(UNKNOWN)");
            }
            tally.merge("check=" + o.check() + " bytes=" + o.bytes() + " load=" + o.load(), 1, Integer::sum);
        }
        report.publishEntry("fuzz outcomes", all.size() + " variants in " + millis + " ms: " + tally);
        System.out.println("ElfFuzzTest: base seed " + ElfFuzzChild.hex(base) + ", " + all.size() + " variants in "
                + millis + " ms: " + tally);
        assertThat(all).hasSize(variants);
        // the mutations reach every stage: refused up front, refused by libbpf, loaded, rejected at load
        assertThat(all).anyMatch(o -> o.check().equals("refused"));
        assertThat(all).anyMatch(o -> o.check().equals("ok") && !o.bytes().equals("ok"));
        assertThat(all).anyMatch(o -> o.load().equals("loaded"));
        assertThat(all).anyMatch(o -> o.bytes().equals("ok") && !o.load().equals("loaded"));
    }
}
