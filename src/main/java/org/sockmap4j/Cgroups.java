package org.sockmap4j;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Finds mounts (from /proc/self/mountinfo) and a writable cgroup v2 hierarchy. */
final class Cgroups {
    private Cgroups() {}

    /** Mount points of file systems of type {@code fstype}, in mount order. */
    static List<Path> mounts(String fstype) {
        List<Path> out = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                // id parent major:minor root mountpoint options... - fstype source superoptions
                int dash = line.indexOf(" - ");
                if (dash < 0) {
                    continue;
                }
                String[] pre = line.substring(0, dash).split(" ");
                String[] post = line.substring(dash + 3).split(" ");
                if (pre.length > 4 && post.length > 0 && post[0].equals(fstype)) {
                    out.add(Path.of(pre[4].replace("\\040", " ")));
                }
            }
        } catch (IOException e) {
            // no mountinfo: no mounts known
        }
        return out;
    }

    /** The first mount of {@code fstype}, or null. */
    static Path mountOf(String fstype) {
        List<Path> m = mounts(fstype);
        return m.isEmpty() ? null : m.get(0);
    }

    /** A cgroup2 mount where a directory can be created, or null. */
    static Path writableCgroup2() {
        for (Path p : mounts("cgroup2")) {
            Path probe = p.resolve("sockmap4j-w-" + ProcessHandle.current().pid());
            try {
                Files.createDirectory(probe);
                Files.delete(probe);
                return p;
            } catch (IOException | UnsupportedOperationException e) {
                // not writable: try the next
            }
        }
        return null;
    }
}
