package org.sockmap4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.sockmap4j.KernelFeatures;

import picocli.CommandLine;

/**
 * A row of {@code bench proxy}: no proxy, one of ours ({@code sockmap proxy} with arguments) or a
 * peer users would pick instead (HAProxy, nginx stream, socat); whether it can run here, and
 * starting it in front of an upstream port.
 *
 * @param name        its name in the table
 * @param kind        what runs
 * @param sockmapArgs {@code sockmap proxy} arguments after {@code --listen/--upstream} (ours only)
 */
record ProxyRow(String name, Kind kind, List<String> sockmapArgs) {
    /** What runs for a row. */
    enum Kind { DIRECT, SOCKMAP, HAPROXY, NGINX, SOCAT }

    /** The rows {@code --modes} may name, in table order. */
    static final List<String> NAMES = List.of("direct", "copy", "splice", "splice-auto", "splice-parser", "haproxy",
            "nginx", "socat");

    /** The rows run without {@code --modes} (each where it can run). */
    static final List<String> DEFAULT = List.of("direct", "copy", "splice", "splice-auto", "haproxy", "nginx",
            "socat");

    /** The row called {@code name}; {@code sockbuf} > 0 sets our proxies' socket buffers. */
    static ProxyRow named(String name, int sockbuf) {
        List<String> buf = sockbuf > 0 ? List.of("--sockbuf", Integer.toString(sockbuf)) : List.of();
        return switch (name) {
            case "direct" -> new ProxyRow(name, Kind.DIRECT, List.of());
            case "copy" -> ours(name, buf, "--mode", "copy");
            case "splice" -> ours(name, buf, "--mode", "splice");
            case "splice-auto" -> ours(name, buf, "--mode", "splice", "--policy", "auto");
            case "splice-parser" -> ours(name, buf, "--mode", "splice", "--framing", "stream_parser");
            case "haproxy" -> new ProxyRow(name, Kind.HAPROXY, List.of());
            case "nginx" -> new ProxyRow(name, Kind.NGINX, List.of());
            case "socat" -> new ProxyRow(name, Kind.SOCAT, List.of());
            default -> throw new Errors.UserError("--modes: unknown mode '" + name + "'; choose from "
                    + String.join(", ", NAMES));
        };
    }

    private static ProxyRow ours(String name, List<String> buf, String... args) {
        List<String> a = new ArrayList<>(List.of(args));
        a.addAll(buf);
        return new ProxyRow(name, Kind.SOCKMAP, a);
    }

    /** Whether our proxies move bytes in the kernel, so that the count they report must match the clients'. */
    boolean splices() {
        return kind == Kind.SOCKMAP && sockmapArgs.contains("splice");
    }

    /** Why this row cannot run here (e.g. "haproxy not installed: apt-get install haproxy"), or null. */
    String unavailable() {
        return switch (kind) {
            case DIRECT -> null;
            case SOCKMAP -> {
                if (sockmapArgs.contains("--policy") && !proxyHasOption("--policy")) {
                    yield "sockmap proxy has no --policy option in this build";
                }
                if (sockmapArgs.contains("stream_parser") && !KernelFeatures.probe().has(
                        KernelFeatures.Feature.ATTACH_SK_SKB_STREAM_PARSER)) {
                    yield "this kernel has no stream parser";
                }
                yield null;
            }
            case HAPROXY -> missing("haproxy", "haproxy");
            case SOCAT -> missing("socat", "socat");
            case NGINX -> {
                String nginx = BenchTools.find("nginx");
                if (nginx == null) {
                    yield "nginx not installed: apt-get install nginx-light " + PeerTools.streamPackage();
                }
                yield PeerTools.nginxStreamModule(nginx) == null ? "nginx's stream module not installed: apt-get "
                        + "install " + PeerTools.streamPackage() : null;
            }
        };
    }

    private static String missing(String tool, String pkg) {
        return BenchTools.find(tool) == null ? tool + " not installed: apt-get install " + pkg : null;
    }

    /** Whether {@code sockmap proxy --help} lists {@code option} (read from its picocli spec). */
    static boolean proxyHasOption(String option) {
        return new CommandLine(new ProxyCommand()).getCommandSpec().findOption(option) != null;
    }

    /** Starts this row's proxy in front of 127.0.0.1:{@code upstream} in {@code cgroup}; null for direct. */
    RunningProxy start(int upstream, ProxyCgroups.Member cgroup) throws IOException, InterruptedException {
        if (kind == Kind.SOCKMAP) {
            try {
                return new ProxyProcess(upstream, sockmapArgs, cgroup.launcher());
            } catch (IOException | RuntimeException e) {
                cgroup.close();
                throw e;
            }
        }
        if (kind == Kind.DIRECT) {
            cgroup.close();
            return null;
        }
        Path dir;
        try {
            dir = ExternalServer.tempDir(name);
        } catch (IOException e) {
            cgroup.close();
            throw e;
        }
        List<String> cmd;
        int port;
        try {
            port = ExternalServer.freePort();
            cmd = switch (kind) {
                case HAPROXY -> {
                    Path cfg = Files.writeString(dir.resolve("haproxy.cfg"), PeerConfigs.haproxy(port, upstream));
                    yield PeerConfigs.haproxyCommand(BenchTools.require("haproxy"), cfg);
                }
                case NGINX -> {
                    String nginx = BenchTools.require("nginx");
                    String so = PeerTools.nginxStreamModule(nginx);
                    Path conf = Files.writeString(dir.resolve("nginx.conf"),
                            PeerConfigs.nginxStream(dir, so == null || so.isEmpty() ? null : so, port, upstream));
                    yield PeerConfigs.nginxCommand(nginx, dir, conf);
                }
                case SOCAT -> PeerConfigs.socatCommand(BenchTools.require("socat"), port, upstream);
                default -> throw new IllegalStateException(kind.toString());
            };
        } catch (IOException | RuntimeException e) {
            ExternalServer.delete(dir);
            cgroup.close();
            throw e;
        }
        return new ExternalServer(name, cmd, port, dir, cgroup);
    }
}
