package org.sockmap4j.cli;

import java.net.InetAddress;
import java.net.InetSocketAddress;

/** Parses HOST:PORT ({@code [v6]:port} for IPv6) with a clear message when it is wrong. */
final class HostPort {
    private HostPort() {}

    static InetSocketAddress parse(String option, String s) {
        int colon = s.lastIndexOf(':');
        if (colon <= 0 || colon == s.length() - 1) {
            throw new Errors.UserError("bad address for " + option + " '" + s + "': expected HOST:PORT");
        }
        String host = s.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(s.substring(colon + 1));
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 0 || port > 65535) {
            throw new Errors.UserError("bad port in " + option + " '" + s + "': expected 0..65535");
        }
        InetAddress a;
        try {
            a = InetAddress.ofLiteral(host);
        } catch (IllegalArgumentException e) {
            if (!host.equals("localhost")) {
                throw new Errors.UserError("bad host in " + option + " '" + s + "': give an IP address or localhost");
            }
            a = InetAddress.getLoopbackAddress();
        }
        return new InetSocketAddress(a, port);
    }
}
