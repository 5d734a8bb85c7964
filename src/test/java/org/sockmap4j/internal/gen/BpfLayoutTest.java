package org.sockmap4j.internal.gen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.lang.foreign.MemoryLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.sockmap4j.internal.gen.bpf.LinuxBpf;
import org.sockmap4j.internal.gen.bpf.bpf_attr;
import org.sockmap4j.internal.gen.bpf.bpf_link_info;
import org.sockmap4j.internal.gen.bpf.bpf_map_info;
import org.sockmap4j.internal.gen.bpf.bpf_prog_info;

/**
 * Cross-checks the committed jextract bindings in {@code internal.gen.bpf} against the C compiler's
 * view of the system's {@code <linux/bpf.h>}: a small C program (generated from the tables below)
 * prints {@code offsetof}/{@code sizeof} of every member the library uses and the values of the
 * constants it uses, and each is compared with the generated Java accessor.
 *
 * <p>Reading the tables: jextract flattens the anonymous structs of {@code union bpf_attr} into
 * top-level accessors and, where a member name repeats, keeps the first one. The top-level
 * accessors used here therefore map to these C members (verified against the generated Javadoc):
 * <ul>
 *   <li>{@code bpf_attr.flags} is the {@code __u64 flags} of the BPF_MAP_*_ELEM struct (the
 *       other {@code flags} live in named structs: batch, test, link_create, ...);</li>
 *   <li>{@code bpf_attr.map_fd} is the BPF_MAP_*_ELEM one ({@code batch.map_fd} is separate);</li>
 *   <li>{@code bpf_attr.bpf_fd} / {@code file_flags} are BPF_OBJ_PIN/GET's; BPF_OBJ_GET_INFO_BY_FD's
 *       {@code bpf_fd}/{@code info_len}/{@code info} are in the nested class {@code bpf_attr.info};</li>
 *   <li>{@code bpf_attr.target_fd} / {@code attach_type} / {@code attach_flags} are
 *       BPF_PROG_ATTACH/DETACH's; the BPF_PROG_QUERY and BPF_LINK_CREATE ones are in the nested
 *       classes {@code bpf_attr.query} and {@code bpf_attr.link_create}.</li>
 * </ul>
 * Accessors of a nested class ({@code bpf_attr.query.target_fd$offset()}) are relative to that
 * nested struct, so the table adds the struct's own offset ({@code bpf_attr.query$offset()}).
 *
 * <p>To check one more member, add one line to {@link #MEMBERS}, {@link #SIZES} or
 * {@link #CONSTANTS}; the C program is generated from those tables.
 */
class BpfLayoutTest {

    /** A member of a C struct/union: C type, C member designator, and the Java side. */
    record Member(String cType, String cMember, LongSupplier javaOffset,
                  Supplier<? extends MemoryLayout> javaLayout) {
        String key() {
            return shortName(cType) + "." + cMember;
        }

        @Override
        public String toString() {
            return key();
        }
    }

    /** {@code sizeof} a whole C type vs the generated class's {@code sizeof()}. */
    record Size(String cType, LongSupplier javaSize) {
        String key() {
            return shortName(cType) + ".sizeof";
        }

        @Override
        public String toString() {
            return key();
        }
    }

    /** A C constant (enum value or macro) vs the generated {@code LinuxBpf.X()}. */
    record Constant(String cName, IntSupplier javaValue) {
        @Override
        public String toString() {
            return cName;
        }
    }

    private static final String ATTR = "union bpf_attr";
    private static final String MAP_INFO = "struct bpf_map_info";
    private static final String LINK_INFO = "struct bpf_link_info";
    private static final String PROG_INFO = "struct bpf_prog_info";

    /** Member of an anonymous struct of union bpf_attr (flattened to a top-level accessor). */
    private static Member attr(String member, LongSupplier offset, Supplier<? extends MemoryLayout> layout) {
        return new Member(ATTR, member, offset, layout);
    }

    /** Member {@code outer.member} of a named struct of union bpf_attr (a nested class). */
    private static Member attr(String outer, LongSupplier outerOffset, String member, LongSupplier offset,
                               Supplier<? extends MemoryLayout> layout) {
        return new Member(ATTR, outer + "." + member,
                () -> outerOffset.getAsLong() + offset.getAsLong(), layout);
    }

    private static Member of(String cType, String member, LongSupplier offset,
                             Supplier<? extends MemoryLayout> layout) {
        return new Member(cType, member, offset, layout);
    }

    static final List<Member> MEMBERS = List.of(
            // BPF_MAP_CREATE
            attr("map_type", bpf_attr::map_type$offset, bpf_attr::map_type$layout),
            attr("key_size", bpf_attr::key_size$offset, bpf_attr::key_size$layout),
            attr("value_size", bpf_attr::value_size$offset, bpf_attr::value_size$layout),
            attr("max_entries", bpf_attr::max_entries$offset, bpf_attr::max_entries$layout),
            attr("map_flags", bpf_attr::map_flags$offset, bpf_attr::map_flags$layout),
            attr("map_name", bpf_attr::map_name$offset, bpf_attr::map_name$layout),
            // BPF_MAP_{LOOKUP,UPDATE,DELETE}_ELEM, BPF_MAP_GET_NEXT_KEY
            attr("map_fd", bpf_attr::map_fd$offset, bpf_attr::map_fd$layout),
            attr("key", bpf_attr::key$offset, bpf_attr::key$layout),
            attr("value", bpf_attr::value$offset, bpf_attr::value$layout),
            attr("next_key", bpf_attr::next_key$offset, bpf_attr::next_key$layout),
            attr("flags", bpf_attr::flags$offset, bpf_attr::flags$layout),
            // BPF_OBJ_PIN / BPF_OBJ_GET
            attr("pathname", bpf_attr::pathname$offset, bpf_attr::pathname$layout),
            attr("bpf_fd", bpf_attr::bpf_fd$offset, bpf_attr::bpf_fd$layout),
            attr("file_flags", bpf_attr::file_flags$offset, bpf_attr::file_flags$layout),
            // BPF_PROG_ATTACH / BPF_PROG_DETACH
            attr("target_fd", bpf_attr::target_fd$offset, bpf_attr::target_fd$layout),
            attr("attach_bpf_fd", bpf_attr::attach_bpf_fd$offset, bpf_attr::attach_bpf_fd$layout),
            attr("attach_type", bpf_attr::attach_type$offset, bpf_attr::attach_type$layout),
            attr("attach_flags", bpf_attr::attach_flags$offset, bpf_attr::attach_flags$layout),
            attr("replace_bpf_fd", bpf_attr::replace_bpf_fd$offset, bpf_attr::replace_bpf_fd$layout),
            // BPF_OBJ_GET_INFO_BY_FD
            attr("info", bpf_attr::info$offset, "bpf_fd", bpf_attr.info::bpf_fd$offset, bpf_attr.info::bpf_fd$layout),
            attr("info", bpf_attr::info$offset, "info_len", bpf_attr.info::info_len$offset, bpf_attr.info::info_len$layout),
            attr("info", bpf_attr::info$offset, "info", bpf_attr.info::info$offset, bpf_attr.info::info$layout),
            // BPF_PROG_QUERY
            attr("query", bpf_attr::query$offset, "target_fd", bpf_attr.query::target_fd$offset, bpf_attr.query::target_fd$layout),
            attr("query", bpf_attr::query$offset, "attach_type", bpf_attr.query::attach_type$offset, bpf_attr.query::attach_type$layout),
            attr("query", bpf_attr::query$offset, "query_flags", bpf_attr.query::query_flags$offset, bpf_attr.query::query_flags$layout),
            attr("query", bpf_attr::query$offset, "attach_flags", bpf_attr.query::attach_flags$offset, bpf_attr.query::attach_flags$layout),
            attr("query", bpf_attr::query$offset, "prog_ids", bpf_attr.query::prog_ids$offset, bpf_attr.query::prog_ids$layout),
            attr("query", bpf_attr::query$offset, "prog_cnt", bpf_attr.query::prog_cnt$offset, bpf_attr.query::prog_cnt$layout),
            // BPF_LINK_CREATE (target_fd sits in an anonymous union with target_ifindex)
            attr("link_create", bpf_attr::link_create$offset, "prog_fd", bpf_attr.link_create::prog_fd$offset, bpf_attr.link_create::prog_fd$layout),
            attr("link_create", bpf_attr::link_create$offset, "target_fd", bpf_attr.link_create::target_fd$offset, bpf_attr.link_create::target_fd$layout),
            attr("link_create", bpf_attr::link_create$offset, "attach_type", bpf_attr.link_create::attach_type$offset, bpf_attr.link_create::attach_type$layout),
            attr("link_create", bpf_attr::link_create$offset, "flags", bpf_attr.link_create::flags$offset, bpf_attr.link_create::flags$layout),
            // BPF_LINK_DETACH
            attr("link_detach", bpf_attr::link_detach$offset, "link_fd", bpf_attr.link_detach::link_fd$offset, bpf_attr.link_detach::link_fd$layout),
            // BPF_PROG_LOAD
            attr("prog_type", bpf_attr::prog_type$offset, bpf_attr::prog_type$layout),
            attr("insn_cnt", bpf_attr::insn_cnt$offset, bpf_attr::insn_cnt$layout),
            attr("insns", bpf_attr::insns$offset, bpf_attr::insns$layout),
            attr("license", bpf_attr::license$offset, bpf_attr::license$layout),
            attr("log_level", bpf_attr::log_level$offset, bpf_attr::log_level$layout),
            attr("log_size", bpf_attr::log_size$offset, bpf_attr::log_size$layout),
            attr("log_buf", bpf_attr::log_buf$offset, bpf_attr::log_buf$layout),
            attr("prog_name", bpf_attr::prog_name$offset, bpf_attr::prog_name$layout),
            attr("expected_attach_type", bpf_attr::expected_attach_type$offset, bpf_attr::expected_attach_type$layout),
            // struct bpf_map_info
            of(MAP_INFO, "type", bpf_map_info::type$offset, bpf_map_info::type$layout),
            of(MAP_INFO, "id", bpf_map_info::id$offset, bpf_map_info::id$layout),
            of(MAP_INFO, "key_size", bpf_map_info::key_size$offset, bpf_map_info::key_size$layout),
            of(MAP_INFO, "value_size", bpf_map_info::value_size$offset, bpf_map_info::value_size$layout),
            of(MAP_INFO, "max_entries", bpf_map_info::max_entries$offset, bpf_map_info::max_entries$layout),
            of(MAP_INFO, "map_flags", bpf_map_info::map_flags$offset, bpf_map_info::map_flags$layout),
            of(MAP_INFO, "name", bpf_map_info::name$offset, bpf_map_info::name$layout),
            // struct bpf_link_info
            of(LINK_INFO, "type", bpf_link_info::type$offset, bpf_link_info::type$layout),
            of(LINK_INFO, "id", bpf_link_info::id$offset, bpf_link_info::id$layout),
            of(LINK_INFO, "prog_id", bpf_link_info::prog_id$offset, bpf_link_info::prog_id$layout),
            // struct bpf_prog_info
            of(PROG_INFO, "type", bpf_prog_info::type$offset, bpf_prog_info::type$layout),
            of(PROG_INFO, "id", bpf_prog_info::id$offset, bpf_prog_info::id$layout),
            of(PROG_INFO, "name", bpf_prog_info::name$offset, bpf_prog_info::name$layout));

    static final List<Size> SIZES = List.of(
            new Size(ATTR, bpf_attr::sizeof),
            new Size(MAP_INFO, bpf_map_info::sizeof),
            new Size(LINK_INFO, bpf_link_info::sizeof),
            new Size(PROG_INFO, bpf_prog_info::sizeof));

    static final List<Constant> CONSTANTS = List.of(
            new Constant("BPF_MAP_TYPE_SOCKMAP", LinuxBpf::BPF_MAP_TYPE_SOCKMAP),
            new Constant("BPF_MAP_TYPE_SOCKHASH", LinuxBpf::BPF_MAP_TYPE_SOCKHASH),
            new Constant("BPF_PROG_TYPE_SK_MSG", LinuxBpf::BPF_PROG_TYPE_SK_MSG),
            new Constant("BPF_PROG_TYPE_SK_SKB", LinuxBpf::BPF_PROG_TYPE_SK_SKB),
            new Constant("BPF_PROG_TYPE_SOCK_OPS", LinuxBpf::BPF_PROG_TYPE_SOCK_OPS),
            new Constant("BPF_SK_MSG_VERDICT", LinuxBpf::BPF_SK_MSG_VERDICT),
            new Constant("BPF_SK_SKB_STREAM_PARSER", LinuxBpf::BPF_SK_SKB_STREAM_PARSER),
            new Constant("BPF_SK_SKB_STREAM_VERDICT", LinuxBpf::BPF_SK_SKB_STREAM_VERDICT),
            new Constant("BPF_SK_SKB_VERDICT", LinuxBpf::BPF_SK_SKB_VERDICT),
            new Constant("BPF_CGROUP_SOCK_OPS", LinuxBpf::BPF_CGROUP_SOCK_OPS),
            // enum bpf_cmd, BPF_MAP_CREATE .. BPF_LINK_DETACH
            new Constant("BPF_MAP_CREATE", LinuxBpf::BPF_MAP_CREATE),
            new Constant("BPF_MAP_LOOKUP_ELEM", LinuxBpf::BPF_MAP_LOOKUP_ELEM),
            new Constant("BPF_MAP_UPDATE_ELEM", LinuxBpf::BPF_MAP_UPDATE_ELEM),
            new Constant("BPF_MAP_DELETE_ELEM", LinuxBpf::BPF_MAP_DELETE_ELEM),
            new Constant("BPF_MAP_GET_NEXT_KEY", LinuxBpf::BPF_MAP_GET_NEXT_KEY),
            new Constant("BPF_PROG_LOAD", LinuxBpf::BPF_PROG_LOAD),
            new Constant("BPF_OBJ_PIN", LinuxBpf::BPF_OBJ_PIN),
            new Constant("BPF_OBJ_GET", LinuxBpf::BPF_OBJ_GET),
            new Constant("BPF_PROG_ATTACH", LinuxBpf::BPF_PROG_ATTACH),
            new Constant("BPF_PROG_DETACH", LinuxBpf::BPF_PROG_DETACH),
            new Constant("BPF_PROG_TEST_RUN", LinuxBpf::BPF_PROG_TEST_RUN),
            new Constant("BPF_PROG_RUN", LinuxBpf::BPF_PROG_RUN),
            new Constant("BPF_PROG_GET_NEXT_ID", LinuxBpf::BPF_PROG_GET_NEXT_ID),
            new Constant("BPF_MAP_GET_NEXT_ID", LinuxBpf::BPF_MAP_GET_NEXT_ID),
            new Constant("BPF_PROG_GET_FD_BY_ID", LinuxBpf::BPF_PROG_GET_FD_BY_ID),
            new Constant("BPF_MAP_GET_FD_BY_ID", LinuxBpf::BPF_MAP_GET_FD_BY_ID),
            new Constant("BPF_OBJ_GET_INFO_BY_FD", LinuxBpf::BPF_OBJ_GET_INFO_BY_FD),
            new Constant("BPF_PROG_QUERY", LinuxBpf::BPF_PROG_QUERY),
            new Constant("BPF_RAW_TRACEPOINT_OPEN", LinuxBpf::BPF_RAW_TRACEPOINT_OPEN),
            new Constant("BPF_BTF_LOAD", LinuxBpf::BPF_BTF_LOAD),
            new Constant("BPF_BTF_GET_FD_BY_ID", LinuxBpf::BPF_BTF_GET_FD_BY_ID),
            new Constant("BPF_TASK_FD_QUERY", LinuxBpf::BPF_TASK_FD_QUERY),
            new Constant("BPF_MAP_LOOKUP_AND_DELETE_ELEM", LinuxBpf::BPF_MAP_LOOKUP_AND_DELETE_ELEM),
            new Constant("BPF_MAP_FREEZE", LinuxBpf::BPF_MAP_FREEZE),
            new Constant("BPF_BTF_GET_NEXT_ID", LinuxBpf::BPF_BTF_GET_NEXT_ID),
            new Constant("BPF_MAP_LOOKUP_BATCH", LinuxBpf::BPF_MAP_LOOKUP_BATCH),
            new Constant("BPF_MAP_LOOKUP_AND_DELETE_BATCH", LinuxBpf::BPF_MAP_LOOKUP_AND_DELETE_BATCH),
            new Constant("BPF_MAP_UPDATE_BATCH", LinuxBpf::BPF_MAP_UPDATE_BATCH),
            new Constant("BPF_MAP_DELETE_BATCH", LinuxBpf::BPF_MAP_DELETE_BATCH),
            new Constant("BPF_LINK_CREATE", LinuxBpf::BPF_LINK_CREATE),
            new Constant("BPF_LINK_UPDATE", LinuxBpf::BPF_LINK_UPDATE),
            new Constant("BPF_LINK_GET_FD_BY_ID", LinuxBpf::BPF_LINK_GET_FD_BY_ID),
            new Constant("BPF_LINK_GET_NEXT_ID", LinuxBpf::BPF_LINK_GET_NEXT_ID),
            new Constant("BPF_ENABLE_STATS", LinuxBpf::BPF_ENABLE_STATS),
            new Constant("BPF_ITER_CREATE", LinuxBpf::BPF_ITER_CREATE),
            new Constant("BPF_LINK_DETACH", LinuxBpf::BPF_LINK_DETACH),
            // BPF_MAP_UPDATE_ELEM flags, bpf_msg/sk_redirect_* flags
            new Constant("BPF_ANY", LinuxBpf::BPF_ANY),
            new Constant("BPF_NOEXIST", LinuxBpf::BPF_NOEXIST),
            new Constant("BPF_EXIST", LinuxBpf::BPF_EXIST),
            new Constant("BPF_F_INGRESS", LinuxBpf::BPF_F_INGRESS));

    /** What the C program printed: {@code "bpf_attr.map_type.offset" -> 0}, {@code "BPF_ANY" -> 0}, ... */
    private static Map<String, Long> fromC;

    @BeforeAll
    static void compileAndRunCProgram(@TempDir Path dir) throws Exception {
        assumeTrue(onPath("gcc"), "gcc is not on PATH; cannot cross-check the bindings against <linux/bpf.h>");
        Path src = dir.resolve("bpf_layout.c");
        Path exe = dir.resolve("bpf_layout");
        Files.writeString(src, cProgram(), StandardCharsets.UTF_8);
        String ccOut = run(List.of("gcc", "-std=gnu11", "-Wall", "-Werror", "-o", exe.toString(), src.toString()));
        String out = run(List.of(exe.toString()));
        Map<String, Long> values = new HashMap<>();
        for (String line : out.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            String[] kv = line.trim().split("\\s+");
            assertThat(kv).as("C output line '%s' (compiler said: %s)", line, ccOut).hasSize(2);
            assertThat(values.put(kv[0], Long.parseLong(kv[1]))).as("duplicate key %s", kv[0]).isNull();
        }
        fromC = values;
    }

    static Stream<Member> members() {
        return MEMBERS.stream();
    }

    static Stream<Size> sizes() {
        return SIZES.stream();
    }

    static Stream<Constant> constants() {
        return CONSTANTS.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("members")
    void memberOffsetAndSizeMatchC(Member m) {
        long cOffset = c(m.key() + ".offset");
        long cSize = c(m.key() + ".size");
        assertThat(m.javaOffset().getAsLong()).as("offsetof(%s, %s)", m.cType(), m.cMember()).isEqualTo(cOffset);
        assertThat(m.javaLayout().get().byteSize()).as("sizeof(((%s *)0)->%s)", m.cType(), m.cMember())
                .isEqualTo(cSize);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("sizes")
    void typeSizeMatchesC(Size s) {
        assertThat(s.javaSize().getAsLong()).as("sizeof(%s)", s.cType()).isEqualTo(c(s.key()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("constants")
    void constantMatchesC(Constant k) {
        assertThat((long) k.javaValue().getAsInt()).as("%s", k.cName()).isEqualTo(c(k.cName()));
    }

    // ---------------------------------------------------------------------------------------------

    private static long c(String key) {
        assertThat(fromC).as("value printed by the C program").containsKey(key);
        return fromC.get(key);
    }

    private static String shortName(String cType) {
        return cType.replaceFirst("^(struct|union)\\s+", "");
    }

    /** The C program, generated from the tables; prints one {@code key value} line per fact. */
    static String cProgram() {
        StringBuilder c = new StringBuilder("""
                #include <stddef.h>
                #include <stdio.h>
                #include <linux/bpf.h>

                int main(void) {
                """);
        for (Size s : SIZES) {
            c.append("    printf(\"%%s %%zu\\n\", \"%s\", sizeof(%s));\n".formatted(s.key(), s.cType()));
        }
        for (Member m : MEMBERS) {
            c.append("    printf(\"%%s %%zu\\n\", \"%s.offset\", offsetof(%s, %s));\n"
                    .formatted(m.key(), m.cType(), m.cMember()));
            c.append("    printf(\"%%s %%zu\\n\", \"%s.size\", sizeof(((%s *)0)->%s));\n"
                    .formatted(m.key(), m.cType(), m.cMember()));
        }
        for (Constant k : CONSTANTS) {
            c.append("    printf(\"%%s %%lld\\n\", \"%s\", (long long)(%s));\n".formatted(k.cName(), k.cName()));
        }
        c.append("    return 0;\n}\n");
        return c.toString();
    }

    private static boolean onPath(String program) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String d : path.split(File.pathSeparator)) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, program))) {
                return true;
            }
        }
        return false;
    }

    /** Runs a command, returns its stdout+stderr; fails the test on a non-zero exit or a hang. */
    private static String run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(new ArrayList<>(command)).redirectErrorStream(true).start();
        byte[] out;
        try (var in = p.getInputStream()) {
            out = in.readAllBytes();
        }
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + command);
        }
        String text = new String(out, StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as("exit status of %s; output:%n%s", command, text).isZero();
        return text;
    }
}
