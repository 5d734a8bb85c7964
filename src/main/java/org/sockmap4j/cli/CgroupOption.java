package org.sockmap4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;

import org.sockmap4j.Cgroup;

/** Opens the {@code --cgroup DIR} of a command with a message for each way it can be wrong. */
final class CgroupOption {
    private CgroupOption() {}

    static Cgroup open(Path dir) {
        if (!Files.exists(dir)) {
            throw new Errors.UserError("no cgroup directory " + dir + ": create it first (mkdir " + dir
                    + ", inside a cgroup v2 mount)");
        }
        if (!Files.isDirectory(dir)) {
            throw new Errors.UserError(dir + " is not a directory");
        }
        if (!Files.exists(dir.resolve("cgroup.procs"))) {
            throw new Errors.UserError(dir + " is not a cgroup directory (no cgroup.procs)");
        }
        return Cgroup.open(dir);
    }
}
