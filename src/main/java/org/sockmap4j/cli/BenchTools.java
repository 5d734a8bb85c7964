package org.sockmap4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The external programs a bench drives, found on PATH (and in /usr/sbin and /sbin, where Debian
 * puts nginx), with the Debian package that provides each: a missing one is one line naming the
 * package, never a silently skipped row.
 */
final class BenchTools {
    private static final Map<String, String> PACKAGE = new LinkedHashMap<>();

    static {
        PACKAGE.put("ip", "iproute2");
        PACKAGE.put("ss", "iproute2");
        PACKAGE.put("taskset", "util-linux");
        PACKAGE.put("sockperf", "sockperf");
        PACKAGE.put("iperf3", "iperf3");
        PACKAGE.put("wrk", "wrk");
        PACKAGE.put("nginx", "nginx-light");
        PACKAGE.put("redis-server", "redis-server");
        PACKAGE.put("redis-benchmark", "redis-tools");
        PACKAGE.put("haproxy", "haproxy");
        PACKAGE.put("socat", "socat");
    }

    private BenchTools() {}

    /** The executable's absolute path, or null. */
    static String find(String tool) {
        Set<String> dirs = new LinkedHashSet<>(List.of(System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")));
        dirs.addAll(List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin"));
        for (String dir : dirs) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return Path.of(dir, tool).toString();
            }
        }
        return null;
    }

    /** The path of {@code tool}; an error naming its package if it is missing. */
    static String require(String tool) {
        String p = find(tool);
        if (p == null) {
            requireAll(List.of(tool), "this bench");
        }
        return p;
    }

    /**
     * Checks that every tool is installed; otherwise one error line naming each missing tool and
     * its Debian package, and what needs them.
     */
    static void requireAll(List<String> tools, String neededBy) {
        List<String> missing = new ArrayList<>();
        Set<String> packages = new LinkedHashSet<>();
        for (String t : new LinkedHashSet<>(tools)) {
            if (find(t) == null) {
                missing.add(t);
                packages.add(PACKAGE.getOrDefault(t, t));
            }
        }
        if (!missing.isEmpty()) {
            throw new Errors.UserError(neededBy + " needs " + String.join(", ", missing) + ", not installed: "
                    + "apt-get install " + String.join(" ", packages) + " (or run scripts/setup.sh)");
        }
    }
}
