package org.sockmap4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Checks, before touching the kernel, that this process may use BPF. */
final class Privileges {
    private Privileges() {}

    private static final int CAP_NET_ADMIN = 12;
    private static final int CAP_SYS_ADMIN = 21;
    private static final int CAP_BPF = 39;

    static boolean sufficient() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("CapEff:")) {
                    long caps = Long.parseUnsignedLong(line.substring(7).strip(), 16);
                    boolean bpf = (caps & (1L << CAP_BPF)) != 0 || (caps & (1L << CAP_SYS_ADMIN)) != 0;
                    return bpf && (caps & (1L << CAP_NET_ADMIN)) != 0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // fall through: let the kernel decide
            return true;
        }
        return true;
    }

    /** Throws a one-line error when the process lacks the capabilities. */
    static void require(String what) {
        if (!sufficient()) {
            throw new Errors.UserError("needs root, or CAP_BPF and CAP_NET_ADMIN: run it with sudo");
        }
    }
}
