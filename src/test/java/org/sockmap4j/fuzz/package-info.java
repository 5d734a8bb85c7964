/**
 * Fuzz tests: damaged BPF objects fed to the loader in child JVMs ({@code ElfFuzzTest},
 * privileged; replay one variant with {@code ElfFuzzChild --seed <seed>}), the Java ELF/BTF check
 * in front of libbpf ({@code ElfCheckTest}, {@code KnownCrashersTest}), and seeded random key
 * codec inputs ({@code KeyCodecFuzzTest}). docs/concurrency-and-fuzzing.md records the seeds,
 * counts and findings.
 */
package org.sockmap4j.fuzz;
