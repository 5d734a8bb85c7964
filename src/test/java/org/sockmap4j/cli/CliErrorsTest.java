package org.sockmap4j.cli;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.sockmap4j.testing.Exec;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TestCgroup;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The CLI's error contract, each case run as its own process: a failure the user can act on is
 * exit 1 and one line on stderr naming what failed and what to do, no stack trace (unless
 * {@code --verbose}); a usage error is exit 2 with the problem and the usage.
 */
@ExtendWith(FdLeakCheck.class)
class CliErrorsTest {

    // ---- checks that come before anything privileged: these run as any user ----

    static Stream<Arguments> badCidrs() {
        return Stream.of(
                Arguments.of("192.0.2.0/33", "prefix length must be 0..32"),
                Arguments.of("2001:db8::/129", "prefix length must be 0..128"),
                Arguments.of("192.0.2.0/-1", "prefix length must be 0..32"),
                Arguments.of("192.0.2.0/x", "prefix length must be 0..32"),
                Arguments.of("not-an-address", "not an IP address"),
                Arguments.of("", "not an IP address"));
    }

    @ParameterizedTest
    @MethodSource("badCidrs")
    @Timeout(120)
    void badCidrIsExit1WithOneLine(String cidr, String why) {
        Cli.Result r = Cli.run("policy", "--cgroup", "/nonexistent-cgroup", "--deny", "192.0.2.0/24", "--deny", cidr);
        Cli.assertOneLineError(r, 1, "sockmap policy: ", "bad CIDR '" + cidr + "'", why);
    }

    @Test
    @Timeout(120)
    void shortIpv4FormsAreNotSilentlyReinterpreted() {
        for (String cidr : List.of("10.1/16", "192.0.2/24", "3221225985/32")) {
            Cli.Result r = Cli.run("policy", "--cgroup", "/nonexistent-cgroup", "--deny", cidr);
            Cli.assertOneLineError(r, 1, "sockmap policy: ", "bad CIDR '" + cidr + "'");
        }
    }

    @Test
    @Timeout(120)
    void nestedCommandsAreNamedInFull() {
        Cli.assertOneLineError(Cli.run("bench", "latency", "--time", "0"), 1, "sockmap bench latency: ");
        Cli.assertOneLineError(Cli.run("bench", "proxy", "--connections", "0"), 1, "sockmap bench proxy: ");
        Cli.assertOneLineError(Cli.run("map", "dump", "/nonexistent-pin"), 1, "sockmap map dump: ");
    }

    static Stream<Arguments> badAddresses() {
        return Stream.of(
                Arguments.of("--listen", "nowhere.invalid:8080", "bad host in --listen"),
                Arguments.of("--listen", "127.0.0.1", "expected HOST:PORT"),
                Arguments.of("--listen", "127.0.0.1:", "expected HOST:PORT"),
                Arguments.of("--listen", ":8080", "expected HOST:PORT"),
                Arguments.of("--listen", "127.0.0.1:65536", "bad port in --listen"),
                Arguments.of("--listen", "127.0.0.1:http", "bad port in --listen"),
                Arguments.of("--listen", "300.1.1.1:80", "bad host in --listen"),
                Arguments.of("--upstream", "127.0.0.1:-5", "bad port in --upstream"));
    }

    @ParameterizedTest
    @MethodSource("badAddresses")
    @Timeout(120)
    void badProxyAddressIsExit1WithOneLine(String option, String value, String why) {
        String listen = option.equals("--listen") ? value : "127.0.0.1:0";
        String upstream = option.equals("--upstream") ? value : "127.0.0.1:9";
        Cli.Result r = Cli.run("proxy", "--listen", listen, "--upstream", upstream, "--duration", "1");
        Cli.assertOneLineError(r, 1, "sockmap proxy: ", "'" + value + "'", why);
    }

    @Test
    @Timeout(120)
    void listenAddressInUseIsExit1WithOneLine() throws Exception {
        try (ServerSocketChannel taken = ServerSocketChannel.open()
                .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            String addr = "127.0.0.1:" + ((InetSocketAddress) taken.getLocalAddress()).getPort();
            Cli.Result r = Cli.run("proxy", "--listen", addr, "--upstream", "127.0.0.1:9", "--duration", "1");
            Cli.assertOneLineError(r, 1, "sockmap proxy: ", "cannot listen on " + addr);
        }
    }

    @Test
    @Timeout(120)
    void spliceAfterWithTheAlwaysPolicyIsExit1WithOneLine() {
        Cli.Result r = Cli.run("proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "--policy", "always",
                "--splice-after-bytes", "10", "--duration", "1");
        Cli.assertOneLineError(r, 1, "sockmap proxy: ", "--splice-after-bytes and --splice-after-ms go with --policy auto");
    }

    @Test
    @Timeout(120)
    void benchTimeOutOfRangeIsExit1() {
        Cli.assertOneLineError(Cli.run("bench", "latency", "--time", "0"), 1, "--time must be 1..3600 seconds");
        Cli.assertOneLineError(Cli.run("bench", "latency", "--time", "3601"), 1, "--time must be 1..3600 seconds");
    }

    @Test
    @Timeout(120)
    void verbosePrintsTheStackTraceAfterTheMessage() {
        Cli.Result r = Cli.run("policy", "--cgroup", "/nonexistent-cgroup", "--deny", "192.0.2.0/33", "--verbose");
        assertThat(r.exit()).as("%s", r).isEqualTo(1);
        assertThat(r.stdout()).isEmpty();
        assertThat(r.err().get(0)).isEqualTo("sockmap policy: bad CIDR '192.0.2.0/33': prefix length must be 0..32");
        assertThat(r.err()).as("%s", r).hasSizeGreaterThan(2);
        assertThat(r.err()).as("%s", r).anyMatch(l -> l.startsWith("\tat org.sockmap4j.cli.Cidrs.check"));

        Cli.Result p = Cli.run("proxy", "--verbose", "--listen", "127.0.0.1", "--upstream", "127.0.0.1:9");
        assertThat(p.exit()).as("%s", p).isEqualTo(1);
        assertThat(p.err()).as("%s", p).anyMatch(l -> l.startsWith("\tat org.sockmap4j.cli.HostPort.parse"));
    }

    static Stream<Arguments> privilegedCommands() {
        return Stream.of(
                Arguments.of("probe", List.of("probe")),
                Arguments.of("probe", List.of("probe", "--json")),
                Arguments.of("bypass", List.of("bypass", "--cgroup", "CGROUP", "--duration", "1")),
                Arguments.of("policy", List.of("policy", "--cgroup", "CGROUP", "--deny", "192.0.2.0/24",
                        "--duration", "1")),
                Arguments.of("map dump", List.of("map", "dump", "/sys/fs/bpf/sockmap4j-cli-none")),
                Arguments.of("bench latency", List.of("bench", "latency", "--time", "1")));
    }

    // ---- usage errors: exit 2 ----

    static Stream<Arguments> usageErrors() {
        return Stream.of(
                Arguments.of(List.of("probe", "--bogus"), "sockmap probe", "Unknown option: '--bogus'"),
                Arguments.of(List.of("bypass"), "sockmap bypass", "Missing required option: '--cgroup=DIR'"),
                Arguments.of(List.of("policy", "--cgroup", "/x"), "sockmap policy",
                        "Missing required option: '--deny=CIDR'"),
                Arguments.of(List.of("proxy", "--listen", "127.0.0.1:0"), "sockmap proxy",
                        "Missing required option: '--upstream=HOST:PORT'"),
                Arguments.of(List.of("proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "--mode", "turbo"),
                        "sockmap proxy",
                        "Invalid value for option '--mode': expected one of [splice, copy] (case-sensitive) but was 'turbo'"),
                Arguments.of(List.of("bypass", "--cgroup", "/x", "--duration", "soon"), "sockmap bypass",
                        "Invalid value for option '--duration': 'soon' is not a long"),
                Arguments.of(List.of("bypass", "--cgroup", "/x", "--ports", "8000-70000"), "sockmap bypass",
                        "bad port '70000' in '8000-70000' (ports are 1..65535; ranges are written low-high)"),
                Arguments.of(List.of("bypass", "--cgroup", "/x", "--cidr", "10.0.0.0/33"), "sockmap bypass",
                        "bad CIDR '10.0.0.0/33': prefix length must be 0..32"),
                Arguments.of(List.of("map", "dump"), "sockmap map dump", "Missing required parameter: 'PINNED_PATH'"),
                Arguments.of(List.of("map"), "sockmap map", "Missing required subcommand"),
                Arguments.of(List.of("bench", "latency", "--cpus"), "sockmap bench latency",
                        "Missing required parameter for option '--cpus' (SERVER,CLIENT)"),
                Arguments.of(List.of(), "sockmap", "Missing required subcommand"),
                Arguments.of(List.of("frobnicate"), "sockmap", "Unmatched argument at index 0: 'frobnicate'"));
    }

    @ParameterizedTest
    @MethodSource("usageErrors")
    @Timeout(120)
    void usageErrorIsTheErrorAndAPointerToHelpExit2(List<String> args, String command, String error) {
        Cli.assertUsageError(Cli.run(args.toArray(String[]::new)), command, error);
    }

    @Test
    @Timeout(120)
    void everyCommandHasHelp() {
        for (String[] cmd : new String[][] {{"probe"}, {"bypass"}, {"policy"}, {"proxy"}, {"map", "dump"},
                {"bench", "latency"}, {"bench", "proxy"}}) {
            String[] args = java.util.Arrays.copyOf(cmd, cmd.length + 1);
            args[cmd.length] = "--help";
            Cli.Result r = Cli.run(args);
            assertThat(r.exit()).as("%s", r).isZero();
            assertThat(r.stdout()).as("%s", r).startsWith("Usage: sockmap " + String.join(" ", cmd));
        }
    }

    @Test
    @Timeout(120)
    void helpAndVersionExit0OnStdout() {
        Cli.Result h = Cli.run("--help");
        assertThat(h.exit()).as("%s", h).isZero();
        assertThat(h.stderr()).isEmpty();
        assertThat(h.stdout()).startsWith("Usage: sockmap").contains("probe", "bypass", "policy", "proxy", "map",
                "bench");
        Cli.Result v = Cli.run("--version");
        assertThat(v.exit()).as("%s", v).isZero();
        assertThat(v.out()).hasSize(1);
        assertThat(v.out().get(0)).startsWith("sockmap ");
        Cli.Result hb = Cli.run("help", "bypass");
        assertThat(hb.exit()).as("%s", hb).isZero();
        assertThat(hb.stdout()).startsWith("Usage: sockmap bypass").contains("--cgroup=DIR", "--duration=SECONDS");
    }

    // ---- cgroup and privilege checks: need root to get past the privilege check ----

    @Nested
    @Privileged
    class AsRoot {
        @Test
        @Timeout(120)
        void missingCgroupDirectory(@TempDir Path tmp) {
            Path missing = tmp.resolve("no-such-cgroup");
            for (String cmd : List.of("bypass", "policy")) {
                Cli.Result r = cmd.equals("bypass")
                        ? Cli.run("bypass", "--cgroup", missing.toString(), "--duration", "1")
                        : Cli.run("policy", "--cgroup", missing.toString(), "--deny", "192.0.2.0/24", "--duration", "1");
                Cli.assertOneLineError(r, 1, "sockmap " + cmd + ": ", "no cgroup directory " + missing,
                        "create it first");
            }
        }

        @Test
        @Timeout(120)
        void directoryThatIsNotACgroup(@TempDir Path tmp) {
            Cli.Result r = Cli.run("bypass", "--cgroup", tmp.toString(), "--duration", "1");
            Cli.assertOneLineError(r, 1, "sockmap bypass: ", tmp + " is not a cgroup directory");
            Cli.Result p = Cli.run("policy", "--cgroup", tmp.toString(), "--deny", "192.0.2.0/24", "--duration", "1");
            Cli.assertOneLineError(p, 1, "sockmap policy: ", tmp + " is not a cgroup directory");
        }

        @Test
        @Timeout(120)
        void fileThatIsNotADirectory(@TempDir Path tmp) throws Exception {
            Path file = Files.writeString(tmp.resolve("file"), "x");
            Cli.assertOneLineError(Cli.run("bypass", "--cgroup", file.toString(), "--duration", "1"), 1,
                    file + " is not a directory");
        }

        @Test
        @Timeout(120)
        void negativeDurationIsExit1AndAttachesNothing() throws Exception {
            try (TestCgroup cg = TestCgroup.create()) {
                Cli.assertOneLineError(Cli.run("bypass", "--cgroup", cg.path().toString(), "--duration", "-1"), 1,
                        "--duration must be 0 or more seconds");
                Cli.assertOneLineError(Cli.run("policy", "--cgroup", cg.path().toString(), "--deny", "192.0.2.0/24",
                        "--duration", "-1"), 1, "--duration must be 0 or more seconds");
                Cli.assertNothingAttached(cg.path());
            }
        }

        @Test
        @Timeout(120)
        void benchCpusMustBeServerCommaClient() {
            Cli.assertOneLineError(Cli.run("bench", "latency", "--time", "1", "--cpus", "zero"), 1,
                    "--cpus must be SERVER,CLIENT");
            Cli.assertOneLineError(Cli.run("bench", "latency", "--time", "1", "--cpus", "0"), 1,
                    "--cpus must be SERVER,CLIENT");
        }

        /** The same JVM command with no capabilities at all (uid 0 but an empty bounding set). */
        private static final List<String> NO_CAPS = List.of("setpriv", "--inh-caps=-all", "--ambient-caps=-all",
                "--bounding-set=-all");

        @ParameterizedTest(name = "{1}")
        @MethodSource("org.sockmap4j.cli.CliErrorsTest#privilegedCommands")
        @Timeout(120)
        void withoutCapabilitiesItSaysToRunAsRoot(String name, List<String> args) throws Exception {
            assertThat(Exec.run("setpriv", "--version").ok()).as("setpriv (util-linux) installed").isTrue();
            try (TestCgroup cg = TestCgroup.create()) {
                String[] argv = args.stream().map(a -> a.equals("CGROUP") ? cg.path().toString() : a)
                        .toArray(String[]::new);
                Cli.Result r = Cli.runWith(NO_CAPS, Cli.T, argv);
                String line = Cli.assertOneLineError(r, 1, "sockmap ", "needs root", "CAP_BPF", "CAP_NET_ADMIN");
                assertThat(line).contains("sockmap " + name);
                Cli.assertNothingAttached(cg.path());
            }
        }
    }
}
