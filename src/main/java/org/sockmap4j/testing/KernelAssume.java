package org.sockmap4j.testing;

import org.junit.jupiter.api.Assumptions;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.KernelFeatures.Feature;

/**
 * Skips a test whose kernel feature the probes report missing, with a reason that starts with
 * "kernel lacks" (the only kind of skip scripts/test.sh accepts as root) and says why. A probe
 * that reports a feature missing on a kernel version that has it fails the test instead, so a
 * broken probe cannot hide tests; the one exception is a refusal by policy (EPERM as root:
 * kernel lockdown or an LSM), which the probe's detail names.
 */
public final class KernelAssume {
    private KernelAssume() {}

    /** Aborts the test unless the running kernel has {@code f}; fails if the probe looks broken. */
    public static void has(Feature f) {
        has(f, "");
    }

    /**
     * As {@link #has(Feature)}, for a test that needs what came with {@code f} rather than
     * {@code f} itself; {@code why} (e.g. "which came with UDP redirects") goes into the reason.
     */
    public static void has(Feature f, String why) {
        KernelFeatures.Status s = KernelFeatures.probe().all().get(f);
        if (s.present()) {
            return;
        }
        String running = System.getProperty("os.version");
        // a refusal by policy, or a system without the means to probe: not a broken probe
        boolean policy = s.detail().startsWith("EPERM") || s.detail().startsWith(KernelFeatures.NO_VSOCK_TRANSPORT);
        if (!policy && atLeast(running, f.since())) {
            throw new AssertionError("the probe says this kernel lacks " + f.description() + ", but Linux " + running
                    + " has it (since " + f.since() + "): the probe is broken; detail: " + s.detail());
        }
        Assumptions.abort("kernel lacks " + f.description() + " (since Linux " + f.since() + ")"
                + (why.isEmpty() ? "" : ", " + why) + ": " + s.detail());
    }

    /** Whether kernel release {@code release} (e.g. "6.1.0-18-amd64") is at least {@code since} ("5.13"). */
    static boolean atLeast(String release, String since) {
        int[] r = majorMinor(release);
        int[] v = majorMinor(since);
        return r[0] != v[0] ? r[0] > v[0] : r[1] >= v[1];
    }

    private static int[] majorMinor(String version) {
        String[] p = version.split("[.-]");
        return new int[] {Integer.parseInt(p[0]), p.length > 1 ? Integer.parseInt(p[1].replaceAll("\\D.*", "")) : 0};
    }
}
