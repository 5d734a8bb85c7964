package org.sockmap4j.programs;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

import com.sun.net.httpserver.HttpServer;

/**
 * HTTP/1.1 peers run as child processes: the JDK's {@link HttpServer} (a NIO selector loop) and a
 * blocking-socket client. Protocol: prints {@code ready}, waits for {@code go}, then:
 * <ul>
 * <li>{@code server HOST PORT}: serves a 1 KiB body on {@code /}, prints {@code listening}, stops
 * on {@code end};</li>
 * <li>{@code client HOST PORT REQUESTS}: sends REQUESTS keep-alive GETs over connections of 1, 10
 * and 100 requests in turn (short and long ones), each answer checked and bounded by a 1 s read
 * timeout, except the first {@value #WARMUP} (30 s: both JVMs load and compile the code paths, which
 * in a TCG guest takes seconds); prints {@code ok REQUESTS CONNECTIONS MAX_MICROS WARMUP_MAX_MICROS}
 * or {@code bad ...}.</li>
 * </ul>
 */
public final class HttpPeer {
    static final int BODY = 1024;
    static final int WARMUP = 50;

    private HttpPeer() {}

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        System.out.println("ready");
        System.out.flush();
        if (!"go".equals(in.readLine())) {
            return;
        }
        InetSocketAddress addr = new InetSocketAddress(args[1], Integer.parseInt(args[2]));
        if (args[0].equals("server")) {
            byte[] body = new byte[BODY];
            for (int i = 0; i < BODY; i++) {
                body[i] = (byte) ('a' + i % 26);
            }
            HttpServer srv = HttpServer.create(addr, 128);
            srv.createContext("/", ex -> {
                ex.getRequestBody().readAllBytes();
                ex.sendResponseHeaders(200, body.length);
                try (OutputStream o = ex.getResponseBody()) {
                    o.write(body);
                }
            });
            srv.setExecutor(Executors.newFixedThreadPool(4));
            srv.start();
            System.out.println("listening");
            System.out.flush();
            in.readLine();
            srv.stop(0);
            System.exit(0);
        }
        int requests = Integer.parseInt(args[3]);
        int[] lengths = {1, 10, 100};
        int done = 0;
        int conns = 0;
        long maxNanos = 0;
        long warmupMaxNanos = 0;
        byte[] req = ("GET / HTTP/1.1\r\nHost: " + args[1] + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        while (done < requests) {
            int n = Math.min(lengths[conns % lengths.length], requests - done);
            try (Socket s = new Socket()) {
                s.connect(addr, done < WARMUP ? 30_000 : 1000);
                s.setTcpNoDelay(true);
                conns++;
                InputStream is = s.getInputStream();
                OutputStream os = s.getOutputStream();
                for (int i = 0; i < n; i++) {
                    s.setSoTimeout(done < WARMUP ? 30_000 : 1000);
                    long t0 = System.nanoTime();
                    os.write(req);
                    os.flush();
                    String bad = readResponse(is);
                    if (bad != null) {
                        System.out.println("bad request " + done + ": " + bad);
                        System.out.flush();
                        return;
                    }
                    long took = System.nanoTime() - t0;
                    if (done < WARMUP) {
                        warmupMaxNanos = Math.max(warmupMaxNanos, took);
                    } else {
                        maxNanos = Math.max(maxNanos, took);
                    }
                    done++;
                }
            } catch (SocketTimeoutException e) {
                System.out.println("bad request " + done + ": no answer within " + (done < WARMUP ? "30 s" : "1 s"));
                System.out.flush();
                return;
            }
        }
        System.out.println("ok " + done + " " + conns + " " + maxNanos / 1000 + " " + warmupMaxNanos / 1000);
        System.out.flush();
    }

    /** Reads one response with a Content-Length body; null if it is a 200 with the expected body. */
    private static String readResponse(InputStream is) throws java.io.IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int c = is.read();
            if (c < 0) {
                return "EOF in headers";
            }
            head.append((char) c);
        }
        String h = head.toString();
        if (!h.startsWith("HTTP/1.1 200")) {
            return "status " + h.lines().findFirst().orElse("");
        }
        int len = -1;
        for (String line : h.split("\r\n")) {
            if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                len = Integer.parseInt(line.substring(15).strip());
            }
        }
        if (len != BODY) {
            return "content-length " + len;
        }
        byte[] body = is.readNBytes(len);
        if (body.length != len) {
            return "short body " + body.length;
        }
        for (int i = 0; i < len; i++) {
            if (body[i] != (byte) ('a' + i % 26)) {
                return "bad body byte " + i;
            }
        }
        return null;
    }
}
