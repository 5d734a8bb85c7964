package org.sockmap4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * The real servers of {@code bench bypass}, each started in a bench namespace and stopped by
 * the caller: nginx serving two static files (1 KiB and 1 MiB) from a minimal configuration in a
 * temporary directory, redis-server without persistence, and the JDK's HTTP server
 * ({@link HttpBenchServer}) in a child JVM. The temporary directory is removed by {@link #close()}.
 */
final class RealServers implements AutoCloseable {
    static final int NGINX_PORT = 8080;
    static final int REDIS_PORT = 6379;
    static final int HTTP_PORT = 8081;
    static final int SMALL = 1024;
    static final int LARGE = 1 << 20;

    private final BenchLab lab;
    private Path dir;

    RealServers(BenchLab lab) {
        this.lab = lab;
    }

    /** nginx on {@code ip}:8080 serving /1k and /1m; returns once it listens. */
    BenchLab.Child nginx(BenchLab.Place where, String ip) throws IOException, InterruptedException {
        Path d = dir();
        Path conf = nginxSite(d, ip + ":" + NGINX_PORT);
        BenchLab.Child c = lab.start(where, List.of(BenchTools.require("nginx"), "-e", d.resolve("error.log").toString(),
                "-p", d.toString(), "-c", conf.toString()));
        lab.waitForListener("nginx", where.ns(), NGINX_PORT, c);
        return c;
    }

    /**
     * Writes, into directory {@code d}, an nginx configuration (one worker, in the foreground,
     * pid and error log in {@code d}) that serves two static files, /1k and /1m, on
     * {@code listen} ({@code HOST:PORT}); returns the configuration file. Start it with
     * {@code nginx -e D/error.log -p D -c CONF}.
     */
    static Path nginxSite(Path d, String listen) throws IOException {
        Path www = Files.createDirectories(d.resolve("www"));
        Files.write(www.resolve("1k"), new byte[SMALL]);
        Files.write(www.resolve("1m"), new byte[LARGE]);
        for (Path p : List.of(d, www)) { // the worker runs as an unprivileged user
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        for (String f : List.of("1k", "1m")) {
            Files.setPosixFilePermissions(www.resolve(f), PosixFilePermissions.fromString("rw-r--r--"));
        }
        Path conf = d.resolve("nginx.conf");
        Files.writeString(conf, String.join("\n",
                "worker_processes 1;",
                "daemon off;",
                "pid " + d.resolve("nginx.pid") + ";",
                "error_log " + d.resolve("error.log") + " warn;",
                "events { worker_connections 1024; }",
                "http {",
                "    access_log off;",
                "    sendfile on;",
                "    tcp_nopush on;",
                "    default_type application/octet-stream;",
                "    client_body_temp_path " + d.resolve("body") + ";",
                "    server {",
                "        listen " + listen + ";",
                "        root " + www + ";",
                "        location / { }",
                "    }",
                "}", ""));
        return conf;
    }

    /** redis-server on {@code ip}:6379, no persistence; returns once it listens. */
    BenchLab.Child redis(BenchLab.Place where, String ip) throws IOException, InterruptedException {
        Path d = dir();
        BenchLab.Child c = lab.start(where, List.of(BenchTools.require("redis-server"), "--bind", ip, "--port",
                Integer.toString(REDIS_PORT), "--protected-mode", "no", "--save", "", "--appendonly", "no",
                "--daemonize", "no", "--dir", d.toString(), "--logfile", ""));
        lab.waitForListener("redis-server", where.ns(), REDIS_PORT, c);
        return c;
    }

    /** The JDK's HttpServer on {@code ip}:8081 answering 1 KiB; returns once it listens. */
    BenchLab.Child httpServer(BenchLab.Place where, String ip) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(ChildJava.command(HttpBenchServer.class));
        cmd.addAll(List.of(ip, Integer.toString(HTTP_PORT), Integer.toString(SMALL)));
        BenchLab.Child c = lab.start(where, cmd);
        lab.waitForListener("the JDK HttpServer", where.ns(), HTTP_PORT, c);
        return c;
    }

    private Path dir() throws IOException {
        if (dir == null) {
            dir = Files.createTempDirectory("sockmap4j-bench-servers-");
        }
        return dir;
    }

    @Override
    public void close() {
        if (dir == null) {
            return;
        }
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            System.err.println("warning: could not remove " + dir + ": " + e.getMessage());
        }
    }
}
