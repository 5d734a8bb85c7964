package org.sockmap4j.programs;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.sockmap4j.BpfException;
import org.sockmap4j.BpfObject;
import org.sockmap4j.Errno;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.VerifierException;
import org.sockmap4j.testing.Exec;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Objects the kernel or libbpf refuse: a program the verifier rejects (compiled here with clang)
 * is a {@link VerifierException} carrying the verifier log; bytes that are no BPF ELF object are
 * a plain {@link BpfException}.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(120)
class VerifierRejectionTest {
    /** libbpf's LIBBPF_ERRNO__FORMAT: "invalid ELF format" (libbpf_legacy.h / libbpf.h). */
    private static final int LIBBPF_ERRNO_FORMAT = 4001;

    /** Reads the first payload byte of every message without checking it against data_end. */
    private static final String UNCHECKED = """
            #include <linux/bpf.h>
            #include <bpf/bpf_helpers.h>

            SEC("sk_msg")
            int unchecked_read(struct sk_msg_md *msg)
            {
            	unsigned char *data = msg->data;

            	return data[0] == 'x' ? SK_DROP : SK_PASS;
            }

            char LICENSE[] SEC("license") = "GPL";
            """;

    /** The same program with the bounds check: the control. */
    private static final String CHECKED = """
            #include <linux/bpf.h>
            #include <bpf/bpf_helpers.h>

            SEC("sk_msg")
            int checked_read(struct sk_msg_md *msg)
            {
            	unsigned char *data = msg->data;

            	if (data + 1 > (unsigned char *)msg->data_end)
            		return SK_PASS;
            	return data[0] == 'x' ? SK_DROP : SK_PASS;
            }

            char LICENSE[] SEC("license") = "GPL";
            """;

    private static Path clang() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator)) {
            Path p = Path.of(dir, "clang");
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }

    private static String archIncludes() {
        String arch = System.getProperty("os.arch");
        return "/usr/include/" + (arch.equals("aarch64") ? "aarch64" : "x86_64") + "-linux-gnu";
    }

    /** Compiles {@code source} with {@code clang -O2 -g -target bpf} into {@code dir}. */
    private static Path compile(Path dir, String name, String source) throws IOException {
        Path clang = clang();
        assumeTrue(clang != null, "clang is not installed (scripts/setup.sh installs it)");
        Path src = Files.writeString(dir.resolve(name + ".bpf.c"), source);
        Path obj = dir.resolve(name + ".bpf.o");
        Exec.Result r = Exec.run(List.of(clang.toString(), "-O2", "-g", "-target", "bpf", "-I" + archIncludes(),
                "-c", src.toString(), "-o", obj.toString()));
        assertThat(r.exitCode()).as("clang: %s", r.stderr()).isZero();
        return obj;
    }

    @Test
    void aProgramReadingPacketDataWithoutABoundsCheckIsRejectedWithTheVerifierLog(@TempDir Path tmp)
            throws IOException {
        Path bad = compile(tmp, "unchecked", UNCHECKED);
        try (BpfObject obj = BpfObject.open(bad)) {
            assertThat(obj.programNames()).containsExactly("unchecked_read");
            assertThatThrownBy(obj::load).isInstanceOfSatisfying(VerifierException.class, e -> {
                assertThat(e.errno()).isEqualTo(Errno.EACCES);
                assertThat(e.log()).contains("BEGIN PROG LOAD LOG");
                assertThat(e.log()).contains("invalid access to packet"); // the verifier's own words
            });
            assertThatThrownBy(() -> obj.skMsg("unchecked_read").close()).isInstanceOf(IllegalStateException.class);
        }
        // the same bytes through open(byte[]) fail the same way
        try (BpfObject obj = BpfObject.open(Files.readAllBytes(bad), "unchecked")) {
            assertThatThrownBy(obj::load).isInstanceOfSatisfying(VerifierException.class,
                    e -> assertThat(e.errno()).isEqualTo(Errno.EACCES));
        }
    }

    @Test
    void theSameProgramWithTheBoundsCheckLoads(@TempDir Path tmp) throws IOException {
        Path good = compile(tmp, "checked", CHECKED);
        try (BpfObject obj = BpfObject.open(good).load(); SkMsgProgram p = obj.skMsg("checked_read")) {
            assertThat(p.id()).isPositive();
        }
    }

    @Test
    void bytesThatAreNoElfObjectAreABpfExceptionNotAVerifierException() {
        byte[] garbage = new byte[256];
        for (int i = 0; i < garbage.length; i++) {
            garbage[i] = (byte) (i * 37 + 11);
        }
        assertThatThrownBy(() -> BpfObject.open(garbage, "garbage").close())
                .isExactlyInstanceOf(BpfException.class)
                .satisfies(e -> {
                    BpfException b = (BpfException) e;
                    assertThat(b.errno()).isEqualTo(Errno.UNKNOWN);
                    assertThat(b.errnoCode()).isEqualTo(LIBBPF_ERRNO_FORMAT);
                });
        byte[] elfHeaderOnly = new byte[64];
        elfHeaderOnly[0] = 0x7f;
        elfHeaderOnly[1] = 'E';
        elfHeaderOnly[2] = 'L';
        elfHeaderOnly[3] = 'F';
        assertThatThrownBy(() -> BpfObject.open(elfHeaderOnly, "header").close())
                .isExactlyInstanceOf(BpfException.class)
                .satisfies(e -> assertThat(((BpfException) e).errnoCode()).isEqualTo(LIBBPF_ERRNO_FORMAT));
        assertThatThrownBy(() -> BpfObject.open(new byte[0], "empty").close())
                .isExactlyInstanceOf(BpfException.class)
                .satisfies(e -> assertThat(((BpfException) e).errno()).isEqualTo(Errno.EINVAL));
    }

    @Test
    void aFileThatIsNoElfObjectOrIsMissingIsABpfException(@TempDir Path tmp) throws IOException {
        Path text = Files.writeString(tmp.resolve("not-elf.o"), "this is not an ELF object\n");
        assertThatThrownBy(() -> BpfObject.open(text).close())
                .isExactlyInstanceOf(BpfException.class)
                .satisfies(e -> assertThat(((BpfException) e).errnoCode()).isEqualTo(LIBBPF_ERRNO_FORMAT));
        assertThatThrownBy(() -> BpfObject.open(tmp.resolve("missing.o")).close())
                .isInstanceOfSatisfying(BpfException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT));
    }
}
