package org.sockmap4j.cli;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The throughput of one iperf3 client run ({@code -f g}): the receiver's Gbits/sec. */
final class IperfResult {
    private static final Pattern RECEIVER = Pattern.compile("([0-9.]+) Gbits/sec\\s+receiver");

    private IperfResult() {}

    /** Gb/s the receiver got, from iperf3's summary line. */
    static double gbps(String out) {
        Matcher m = RECEIVER.matcher(out);
        if (!m.find()) {
            throw new Errors.UserError("cannot read iperf3's receiver throughput:\n" + out.strip());
        }
        return Double.parseDouble(m.group(1));
    }
}
