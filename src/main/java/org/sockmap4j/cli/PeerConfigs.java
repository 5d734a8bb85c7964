package org.sockmap4j.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The configurations {@code bench proxy} gives the proxies users would pick instead of ours, each
 * the plain TCP forwarding setup their documentation shows, listening on 127.0.0.1:{@code port}
 * and forwarding to 127.0.0.1:{@code upstream}; files (pid, logs) only in the given directory.
 * <ul>
 * <li>HAProxy: {@code mode tcp}, {@code option splice-auto}, default threads, in the foreground
 * ({@code -db});
 * <li>nginx: a {@code stream} server with {@code proxy_pass}, {@code worker_processes auto} (what
 * Debian's packaged configuration has), {@code daemon off}, the stream module loaded when it is a
 * dynamic module;
 * <li>socat: {@code TCP-LISTEN:PORT,fork,reuseaddr TCP:127.0.0.1:UPSTREAM}, one forked child per
 * connection.
 * </ul>
 */
final class PeerConfigs {
    private PeerConfigs() {}

    /** haproxy.cfg text. */
    static String haproxy(int port, int upstream) {
        return String.join("\n",
                "global",
                "    maxconn 4096",
                "defaults",
                "    mode tcp",
                "    option splice-auto",
                "    timeout connect 5s",
                "    timeout client 60s",
                "    timeout server 60s",
                "frontend bench",
                "    bind 127.0.0.1:" + port,
                "    default_backend upstream",
                "backend upstream",
                "    server up 127.0.0.1:" + upstream,
                "");
    }

    /** haproxy's command line for config file {@code cfg}. */
    static List<String> haproxyCommand(String haproxy, Path cfg) {
        return List.of(haproxy, "-db", "-f", cfg.toString());
    }

    /** nginx.conf text; {@code streamModule} is the module's .so to load, or null when it is built in. */
    static String nginxStream(Path dir, String streamModule, int port, int upstream) {
        List<String> l = new ArrayList<>();
        if (streamModule != null) {
            l.add("load_module " + streamModule + ";");
        }
        l.addAll(List.of(
                "worker_processes auto;",
                "daemon off;",
                "pid " + dir.resolve("nginx.pid") + ";",
                "error_log " + dir.resolve("error.log") + " warn;",
                "events { worker_connections 4096; }",
                "stream {",
                "    server {",
                "        listen 127.0.0.1:" + port + ";",
                "        proxy_pass 127.0.0.1:" + upstream + ";",
                "    }",
                "}",
                ""));
        return String.join("\n", l);
    }

    /** nginx's command line for prefix {@code dir} and config file {@code conf}. */
    static List<String> nginxCommand(String nginx, Path dir, Path conf) {
        return List.of(nginx, "-e", dir.resolve("error.log").toString(), "-p", dir.toString(), "-c", conf.toString());
    }

    /** socat's command line. */
    static List<String> socatCommand(String socat, int port, int upstream) {
        return List.of(socat, "TCP-LISTEN:" + port + ",bind=127.0.0.1,fork,reuseaddr", "TCP:127.0.0.1:" + upstream);
    }
}
