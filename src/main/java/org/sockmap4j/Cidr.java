package org.sockmap4j;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.Objects;

/**
 * An IP prefix ("192.0.2.0/24", "2001:db8::/32", or one address), parsed from a literal: never a
 * DNS lookup. The form the bundled programs' LPM tries ({@link LpmTrie}, Linux 4.11+) take.
 *
 * @param address the prefix's address as written (host bits are kept; the trie ignores them)
 * @param prefix the prefix length, 0..32 for IPv4, 0..128 for IPv6
 */
public record Cidr(InetAddress address, int prefix) {
    /** Checks the prefix length against the address family. */
    public Cidr {
        Objects.requireNonNull(address, "address");
        int max = address instanceof Inet4Address ? 32 : 128;
        if (prefix < 0 || prefix > max) {
            throw new IllegalArgumentException("prefix length must be 0.." + max + ", got " + prefix);
        }
    }

    /**
     * Parses {@code s}.
     *
     * @throws IllegalArgumentException naming what is wrong: not an IP literal, a bad prefix length
     */
    public static Cidr parse(String s) {
        String t = s == null ? "" : s.strip();
        int slash = t.indexOf('/');
        String addr = slash < 0 ? t : t.substring(0, slash);
        if (addr.indexOf(':') < 0 && !addr.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
            throw bad(s, "not an IP address (IPv4 needs four dotted numbers, e.g. 192.0.2.0/24)", null);
        }
        InetAddress a;
        try {
            a = InetAddress.ofLiteral(addr);
        } catch (IllegalArgumentException e) {
            throw bad(s, "not an IP address (expected e.g. 192.0.2.0/24 or 2001:db8::/32)", e);
        }
        int max = a instanceof Inet4Address ? 32 : 128;
        int prefix = max;
        if (slash >= 0) {
            try {
                prefix = Integer.parseInt(t.substring(slash + 1));
            } catch (NumberFormatException e) {
                prefix = -1;
            }
            if (prefix < 0 || prefix > max) {
                throw bad(s, "prefix length must be 0.." + max, null);
            }
        }
        return new Cidr(a, prefix);
    }

    private static IllegalArgumentException bad(String s, String why, Exception cause) {
        return new IllegalArgumentException("bad CIDR '" + s + "': " + why, cause);
    }

    /** True for an IPv4 prefix. */
    public boolean isIpv4() {
        return address instanceof Inet4Address;
    }

    /** Whether {@code a} (of the same family) falls in this prefix. */
    public boolean contains(InetAddress a) {
        byte[] p = address.getAddress();
        byte[] x = a.getAddress();
        if (p.length != x.length) {
            return false;
        }
        int full = prefix / 8;
        for (int i = 0; i < full; i++) {
            if (p[i] != x[i]) {
                return false;
            }
        }
        int rest = prefix % 8;
        if (rest == 0) {
            return true;
        }
        int mask = (0xff << (8 - rest)) & 0xff;
        return (p[full] & mask) == (x[full] & mask);
    }

    @Override
    public String toString() {
        return address.getHostAddress() + "/" + prefix;
    }
}
