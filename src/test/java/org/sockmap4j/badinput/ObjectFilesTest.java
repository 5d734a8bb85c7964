package org.sockmap4j.badinput;

import static org.assertj.core.api.Assertions.assertThat;
import static org.sockmap4j.badinput.Refusal.assertKernelRefused;
import static org.sockmap4j.badinput.Refusal.assertRefused;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.sockmap4j.BpfException;
import org.sockmap4j.BpfObject;
import org.sockmap4j.internal.libbpf.Libbpf;
import org.sockmap4j.testing.Exec;
import org.sockmap4j.testing.FdLeakCheck;

/**
 * Object files libbpf cannot open: empty, truncated, for another machine, of another ELF class,
 * byte order or type. Each is a {@link BpfException} with libbpf's error code, our hint for it,
 * and what libbpf said (or what the library's own ELF check found before libbpf read it), with
 * the object called by its name (not by the address of the buffer libbpf read it from). A directory and a FIFO are refused before libbpf sees them. The foreign
 * objects are the bundled {@code redirect} object with one ELF header field patched. Opening
 * parses only: no privileges needed, only libbpf.
 */
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class ObjectFilesTest {
    /** libbpf.h, enum libbpf_errno. */
    private static final int LIBBPF_ERRNO_FORMAT = 4001;
    private static final String NOT_BPF = "not a BPF object: it must be a 64-bit relocatable ELF for EM_BPF";

    // ELF header offsets and values (elf.h)
    private static final int EI_CLASS = 4;
    private static final int EI_DATA = 5;
    private static final int E_TYPE = 16;
    private static final int E_MACHINE = 18;

    private static byte[] redirect;

    @BeforeAll
    static void readTheBundledObject() throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(Libbpf.unavailableReason() == null,
                () -> "libbpf is not installed: " + Libbpf.unavailableReason());
        try (InputStream in = BpfObject.class.getResourceAsStream("/org/sockmap4j/bpf/redirect.bpf.o")) {
            assertThat(in).as("bundled redirect.bpf.o").isNotNull();
            redirect = in.readAllBytes();
        }
        // the unpatched bytes open: each case below fails only because of its change
        BpfObject.open(redirect, "redirect").close();
    }

    /**
     * The hint says what was wrong: what libbpf said, or what the library's own ELF check (run
     * first, since libbpf 1.1 crashes on some malformed files) found.
     */
    private static void assertSaysWhy(BpfException e) {
        assertThat(e.hint()).containsAnyOf("libbpf said: ", "checked before libbpf: ");
    }

    /** The hint names no buffer address ("7f12...-5ca0"): libbpf's name for a memory object is replaced. */
    private static void assertNoBufferAddress(BpfException e) {
        assertSaysWhy(e);
        assertThat(e.hint()).doesNotContainPattern("[0-9a-f]{8,}-[0-9a-f]+");
    }

    @Test
    void anEmptyFile(@TempDir Path tmp) throws IOException {
        Path empty = Files.write(tmp.resolve("empty.bpf.o"), new byte[0]);
        BpfException e = assertKernelRefused(() -> BpfObject.open(empty).close(), BpfException.class,
                LIBBPF_ERRNO_FORMAT, "bpf_object__open_file", empty.toString(), NOT_BPF);
        assertSaysWhy(e);
    }

    @Test
    void aFileCutInHalf(@TempDir Path tmp) throws IOException {
        Path half = Files.write(tmp.resolve("half.bpf.o"), Arrays.copyOf(redirect, redirect.length / 2));
        assertKernelRefused(() -> BpfObject.open(half).close(), BpfException.class, LIBBPF_ERRNO_FORMAT,
                "bpf_object__open_file", half.toString(), NOT_BPF);
    }

    @Test
    void bytesMissingTheirLastByte() {
        byte[] cut = Arrays.copyOf(redirect, redirect.length - 1);
        BpfException e = assertKernelRefused(() -> BpfObject.open(cut, "cut_by_one").close(), BpfException.class,
                LIBBPF_ERRNO_FORMAT, "bpf_object__open_mem", "cut_by_one", NOT_BPF);
        assertNoBufferAddress(e);
    }

    @ParameterizedTest(name = "e_machine {0} ({1})")
    @CsvSource({"62, x86_64", "183, aarch64"})
    void anObjectForAnotherMachine(int machine, String name) {
        byte[] foreign = redirect.clone();
        foreign[E_MACHINE] = (byte) machine; // little-endian u16; both values fit in one byte
        foreign[E_MACHINE + 1] = 0;
        BpfException e = assertKernelRefused(() -> BpfObject.open(foreign, name).close(), BpfException.class,
                LIBBPF_ERRNO_FORMAT, "bpf_object__open_mem", name, NOT_BPF);
        assertSaysWhy(e);
        assertNoBufferAddress(e);
    }

    @Test
    void anObjectInTheOtherByteOrder() {
        byte[] bigEndian = redirect.clone();
        bigEndian[EI_DATA] = 2; // ELFDATA2MSB
        BpfException e = assertKernelRefused(() -> BpfObject.open(bigEndian, "big_endian").close(),
                BpfException.class, LIBBPF_ERRNO_FORMAT, "bpf_object__open_mem", "big_endian", "byte order");
        assertNoBufferAddress(e);
    }

    @Test
    void aThirtyTwoBitElfObject() {
        byte[] elf32 = redirect.clone();
        elf32[EI_CLASS] = 1; // ELFCLASS32
        BpfException e = assertKernelRefused(() -> BpfObject.open(elf32, "elf32").close(), BpfException.class,
                LIBBPF_ERRNO_FORMAT, "bpf_object__open_mem", "elf32", NOT_BPF);
        assertSaysWhy(e);
        assertThat(e.getMessage()).contains("elf32");
    }

    @Test
    void anExecutableInsteadOfARelocatableObject() {
        byte[] exec = redirect.clone();
        exec[E_TYPE] = 2; // ET_EXEC
        BpfException e = assertKernelRefused(() -> BpfObject.open(exec, "exec").close(), BpfException.class,
                LIBBPF_ERRNO_FORMAT, "bpf_object__open_mem", "exec", "relocatable");
        assertNoBufferAddress(e);
    }

    /** Refused before libbpf sees it: libbpf 1.1 opened the directory and leaked that fd. */
    @Test
    void aDirectory(@TempDir Path tmp) {
        assertRefused(() -> BpfObject.open(tmp).close(), IllegalArgumentException.class, "BpfObject.open",
                tmp + " is a directory", "pass a BPF object file");
    }

    /** Refused before libbpf sees it: libbpf's open(2) of a FIFO without a writer would block forever. */
    @Test
    void aFifo(@TempDir Path tmp) {
        Path fifo = tmp.resolve("fifo.bpf.o");
        Exec.check("mkfifo", fifo.toString());
        assertRefused(() -> BpfObject.open(fifo).close(), IllegalArgumentException.class, "BpfObject.open",
                fifo + " is not a regular file", "pass a BPF object file");
    }
}
