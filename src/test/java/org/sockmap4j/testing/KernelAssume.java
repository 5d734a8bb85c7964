package org.sockmap4j.testing;

import org.junit.jupiter.api.Assumptions;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.KernelFeatures.Feature;

/**
 * Skips a test whose kernel feature the probes report missing, with a reason that starts with
 * "kernel lacks" (the only kind of skip scripts/test.sh accepts as root) and says why.
 */
public final class KernelAssume {
    private KernelAssume() {}

    /** Aborts the test unless the running kernel has {@code f}. */
    public static void has(Feature f) {
        KernelFeatures.Status s = KernelFeatures.probe().all().get(f);
        if (!s.present()) {
            Assumptions.abort("kernel lacks " + f.description() + " (since Linux " + f.since() + "): " + s.detail());
        }
    }
}
