package org.sockmap4j.recipes;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import org.sockmap4j.Cidr;

/**
 * Which connections a {@link LocalBypass} may bypass: server ports and the prefixes both ends'
 * addresses must lie in. Immutable; {@link #all()} allows every connection between bypassed
 * sockets. Checked by the recipe's SOCK_OPS program when a bypassed listener gets a SYN (Linux
 * 4.18+), so a change applies to connections established afterwards.
 *
 * <pre>{@code
 * BypassScope s = BypassScope.all().ports("6379,8000-8100").cidrs("10.0.0.0/24");
 * }</pre>
 *
 * A v4-mapped IPv6 connection (a JDK dual-stack socket talking IPv4) is matched against the IPv4
 * prefixes.
 */
public final class BypassScope {
    private static final BypassScope ALL = new BypassScope(null, List.of());

    private final BitSet ports; // null: every port
    private final List<Cidr> cidrs; // empty: every address

    private BypassScope(BitSet ports, List<Cidr> cidrs) {
        this.ports = ports;
        this.cidrs = List.copyOf(cidrs);
    }

    /** No restriction: every connection whose two ends are bypassed sockets. */
    public static BypassScope all() {
        return ALL;
    }

    /**
     * Only connections to these server ports: a comma-separated list of ports and inclusive ranges,
     * e.g. {@code "6379,8000-8100"}. Replaces any earlier port list.
     *
     * @throws IllegalArgumentException for anything but ports 1..65535 and ranges low-high
     */
    public BypassScope ports(String spec) {
        if (spec == null || spec.isBlank()) {
            throw new IllegalArgumentException("empty port list (expected e.g. 6379,8000-8100)");
        }
        BitSet b = new BitSet(65536);
        for (String part : spec.split(",", -1)) {
            String p = part.strip();
            int dash = p.indexOf('-');
            int lo = port(dash < 0 ? p : p.substring(0, dash), spec);
            int hi = dash < 0 ? lo : port(p.substring(dash + 1), spec);
            if (hi < lo) {
                throw new IllegalArgumentException("port range '" + p + "' ends before it starts in '" + spec + "'");
            }
            b.set(lo, hi + 1);
        }
        return new BypassScope(b, cidrs);
    }

    /** Only connections to these server ports (1..65535). Replaces any earlier port list. */
    public BypassScope ports(int... list) {
        if (list.length == 0) {
            throw new IllegalArgumentException("empty port list");
        }
        BitSet b = new BitSet(65536);
        for (int p : list) {
            if (p < 1 || p > 65535) {
                throw new IllegalArgumentException("port must be 1..65535, got " + p);
            }
            b.set(p);
        }
        return new BypassScope(b, cidrs);
    }

    private static int port(String s, String spec) {
        try {
            int p = Integer.parseInt(s.strip());
            if (p >= 1 && p <= 65535) {
                return p;
            }
        } catch (NumberFormatException e) {
            // fall through to the message
        }
        throw new IllegalArgumentException("bad port '" + s.strip() + "' in '" + spec
                + "' (ports are 1..65535; ranges are written low-high)");
    }

    /**
     * Only connections whose two addresses both lie in these prefixes ("10.0.0.0/24",
     * "2001:db8::/64", or one address). Replaces any earlier prefix list.
     *
     * @throws IllegalArgumentException for a string that is not an IP prefix
     */
    public BypassScope cidrs(String... list) {
        if (list.length == 0) {
            throw new IllegalArgumentException("empty CIDR list");
        }
        Set<Cidr> c = new LinkedHashSet<>();
        for (String s : list) {
            c.add(Cidr.parse(s));
        }
        return new BypassScope(ports, new ArrayList<>(c));
    }

    /** This scope without a port restriction. */
    public BypassScope anyPort() {
        return new BypassScope(null, cidrs);
    }

    /** This scope without an address restriction. */
    public BypassScope anyAddress() {
        return new BypassScope(ports, List.of());
    }

    /** True if only some server ports are in scope. */
    public boolean restrictsPorts() {
        return ports != null;
    }

    /** Whether server port {@code port} is in scope. */
    public boolean allowsPort(int port) {
        return ports == null || (port >= 1 && port <= 65535 && ports.get(port));
    }

    /** The prefixes both ends must lie in; empty when addresses are not restricted. */
    public List<Cidr> cidrs() {
        return cidrs;
    }

    /** The port bitmap as the program reads it: 2048 words, bit {@code p % 32} of word {@code p / 32}. */
    int[] portWords() {
        int[] w = new int[65536 / 32];
        if (ports != null) {
            for (int p = ports.nextSetBit(0); p >= 0; p = ports.nextSetBit(p + 1)) {
                w[p >>> 5] |= 1 << (p & 31);
            }
        }
        return w;
    }

    @Override
    public String toString() {
        if (ports == null && cidrs.isEmpty()) {
            return "all";
        }
        StringBuilder sb = new StringBuilder();
        if (ports != null) {
            sb.append("ports ").append(ranges());
        }
        if (!cidrs.isEmpty()) {
            sb.append(sb.isEmpty() ? "" : ", ").append("cidrs ").append(cidrs);
        }
        return sb.toString();
    }

    /** The server ports in scope as ports and ranges ("6379,8000-8100"); "" when every port is. */
    public String portList() {
        return ports == null ? "" : ranges();
    }

    private String ranges() {
        StringBuilder sb = new StringBuilder();
        for (int lo = ports.nextSetBit(0); lo >= 0; ) {
            int hi = ports.nextClearBit(lo) - 1;
            sb.append(sb.isEmpty() ? "" : ",").append(lo).append(hi > lo ? "-" + hi : "");
            lo = ports.nextSetBit(hi + 1);
        }
        return sb.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BypassScope s && java.util.Objects.equals(ports, s.ports) && cidrs.equals(s.cidrs);
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(ports, cidrs);
    }
}
