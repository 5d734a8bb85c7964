package org.sockmap4j.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The short-connection load of {@code bench proxy}: wrk on one thread with
 * {@code Connection: close}, so that every request is a new connection (its requests per second
 * are connections per second). Bounded: wrk's own {@code -d}, killed 30 s after that.
 */
final class ShortConnectionLoad {
    private ShortConnectionLoad() {}

    /** wrk's command line. */
    static List<String> command(String wrk, String url, int connections, int seconds) {
        return List.of(wrk, "-t1", "-c" + connections, "-d" + seconds + "s", "--latency", "--timeout", "2s", "-H",
                "Connection: close", url);
    }

    /** Runs wrk against {@code url} and returns its figures, errors included. */
    static WrkResult run(String url, int connections, int seconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command(BenchTools.require("wrk"), url, connections, seconds))
                .redirectErrorStream(true).start();
        try {
            CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> {
                try {
                    return p.getInputStream().readAllBytes();
                } catch (IOException e) {
                    return new byte[0];
                }
            });
            if (!p.waitFor(seconds + 30L, TimeUnit.SECONDS)) {
                throw new Errors.UserError("wrk did not finish in " + (seconds + 30) + " s");
            }
            String text = new String(out.join(), StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new Errors.UserError("wrk failed (exit " + p.exitValue() + "): " + text.strip());
            }
            return WrkResult.parse(text);
        } finally {
            p.destroyForcibly();
        }
    }
}
