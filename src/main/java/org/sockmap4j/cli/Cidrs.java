package org.sockmap4j.cli;

import java.net.Inet4Address;
import java.net.InetAddress;

/** Validates CIDR arguments up front, with the message the user needs. */
final class Cidrs {
    private Cidrs() {}

    static void check(String cidr) {
        String t = cidr.strip();
        int slash = t.indexOf('/');
        String addr = slash < 0 ? t : t.substring(0, slash);
        if (addr.indexOf(':') < 0 && !addr.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
            throw new Errors.UserError("bad CIDR '" + cidr + "': not an IP address (IPv4 needs four dotted "
                    + "numbers, e.g. 192.0.2.0/24)");
        }
        InetAddress a;
        try {
            a = InetAddress.ofLiteral(addr);
        } catch (IllegalArgumentException e) {
            throw new Errors.UserError("bad CIDR '" + cidr + "': not an IP address (expected e.g. 192.0.2.0/24 "
                    + "or 2001:db8::/32)");
        }
        if (slash >= 0) {
            int max = a instanceof Inet4Address ? 32 : 128;
            int p;
            try {
                p = Integer.parseInt(t.substring(slash + 1));
            } catch (NumberFormatException e) {
                p = -1;
            }
            if (p < 0 || p > max) {
                throw new Errors.UserError("bad CIDR '" + cidr + "': prefix length must be 0.." + max);
            }
        }
    }
}
