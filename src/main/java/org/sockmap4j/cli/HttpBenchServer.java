package org.sockmap4j.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import com.sun.net.httpserver.HttpServer;

/**
 * The JDK's {@link HttpServer} as a real server for {@code bench bypass}, started as a child JVM
 * inside a bench namespace: {@code HOST PORT BYTES} answers every request with a {@code BYTES}
 * body (status 200), on a fixed pool of worker threads. Prints "listening" once bound; runs until
 * killed.
 */
public final class HttpBenchServer {
    private HttpBenchServer() {}

    public static void main(String[] args) throws IOException {
        byte[] body = new byte[Integer.parseInt(args[2])];
        Arrays.fill(body, (byte) 'x');
        HttpServer server = HttpServer.create(new InetSocketAddress(args[0], Integer.parseInt(args[1])), 1024);
        server.createContext("/", exchange -> {
            try (InputStream in = exchange.getRequestBody(); OutputStream out = exchange.getResponseBody()) {
                in.readAllBytes();
                exchange.getResponseHeaders().set("Content-Type", "application/octet-stream");
                exchange.sendResponseHeaders(200, body.length);
                out.write(body);
            }
        });
        ExecutorService pool = Executors.newFixedThreadPool(4);
        server.setExecutor(pool);
        server.start();
        System.out.println("listening on " + args[0] + ":" + args[1]);
        System.out.flush();
    }
}
