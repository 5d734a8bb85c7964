package org.sockmap4j.testing;

import java.util.List;

/**
 * The command prefix that runs a child as user {@code nobody} (uid and gid 65534, no
 * supplementary groups) through util-linux's {@code setpriv}: either with no capability in any
 * set, or with the given capabilities inheritable and ambient (what a service granted "BPF
 * rights" by its unit file has). Test sources only (badinput and reliability tests).
 */
public final class Nobody {
    private Nobody() {}

    /** uid and gid of {@code nobody}. */
    public static final int ID = 65534;

    /** {@code setpriv} as nobody with no capabilities: inheritable, ambient and bounding sets cleared. */
    public static List<String> withoutCapabilities() {
        return List.of("setpriv", "--reuid=" + ID, "--regid=" + ID, "--clear-groups",
                "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all");
    }

    /**
     * {@code setpriv} as nobody with {@code caps} (setpriv's syntax, e.g. {@code "+bpf,+net_admin"})
     * inheritable and ambient, so they survive the exec of the child; "" for none.
     */
    public static List<String> withCapabilities(String caps) {
        if (caps.isEmpty()) {
            return withoutCapabilities();
        }
        return List.of("setpriv", "--reuid=" + ID, "--regid=" + ID, "--clear-groups",
                "--inh-caps=" + caps, "--ambient-caps=" + caps);
    }
}
