package org.sockmap4j.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What {@code bench proxy} learns about the peer proxies installed here: each one's version as
 * it prints it ({@code haproxy -v}, {@code nginx -v}, {@code socat -V}), and where nginx's
 * {@code stream} module is (Debian ships it as a dynamic module in libnginx-mod-stream; nginx
 * built with it statically needs no {@code load_module}).
 */
final class PeerTools {
    private static final String STREAM_PACKAGE = "libnginx-mod-stream";

    private PeerTools() {}

    /** The version line of {@code tool} (haproxy, nginx or socat), or "unknown". */
    static String version(String tool) {
        String path = BenchTools.find(tool);
        if (path == null) {
            return "not installed";
        }
        String flag = tool.equals("socat") ? "-V" : "-v";
        return parseVersion(tool, output(path, flag));
    }

    /** "HAProxy 2.6.12", "nginx 1.22.1", "socat 1.7.4.4" from the tool's version output, or "unknown". */
    static String parseVersion(String tool, String out) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(switch (tool) {
            case "haproxy" -> "HA-?Proxy version (\\S+)";
            case "nginx" -> "nginx version: nginx/(\\S+)";
            case "socat" -> "socat version (\\S+)";
            default -> throw new IllegalArgumentException(tool);
        }).matcher(out);
        return m.find() ? (tool.equals("haproxy") ? "HAProxy" : tool) + " " + m.group(1) : "unknown";
    }

    /**
     * nginx's stream module: the .so to {@code load_module}, "" when nginx has it built in, or
     * null when it is missing (then {@link #STREAM_PACKAGE} provides it).
     */
    static String nginxStreamModule(String nginx) {
        String so = moduleIn(output("dpkg", "-L", STREAM_PACKAGE));
        if (so != null && Files.isRegularFile(Path.of(so))) {
            return so;
        }
        return builtIn(output(nginx, "-V")) ? "" : null;
    }

    /** The ngx_stream_module.so path in a {@code dpkg -L} listing, or null. */
    static String moduleIn(String dpkgList) {
        return dpkgList.lines().map(String::strip).filter(l -> l.endsWith("/ngx_stream_module.so")).findFirst()
                .orElse(null);
    }

    /** Whether {@code nginx -V}'s configure arguments build the stream module in (not as a dynamic one). */
    static boolean builtIn(String nginxV) {
        return List.of(nginxV.split("\\s+")).contains("--with-stream");
    }

    static String streamPackage() {
        return STREAM_PACKAGE;
    }

    /** stdout and stderr of a short command (5 s at most), "" if it cannot run. */
    private static String output(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
            return new String(out, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }
}
