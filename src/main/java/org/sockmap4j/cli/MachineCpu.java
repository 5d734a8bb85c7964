package org.sockmap4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Busy CPU time of the whole machine, from the first line of {@code /proc/stat}: everything but
 * idle and iowait, in clock ticks (USER_HZ). A splice proxy's work runs in softirq and kernel
 * workers, not in the proxy process, so only this shows what a transfer really costs.
 */
final class MachineCpu {
    private MachineCpu() {}

    static long busyTicks() throws IOException {
        String cpu = Files.readAllLines(Path.of("/proc/stat")).get(0);
        String[] f = cpu.trim().split("\\s+");
        long busy = 0;
        for (int i = 1; i < f.length && i <= 8; i++) { // user nice system idle iowait irq softirq steal
            if (i != 4 && i != 5) {
                busy += Long.parseLong(f[i]);
            }
        }
        return busy;
    }
}
