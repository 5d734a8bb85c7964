package org.sockmap4j.cli;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The short-connection client of {@code bench proxy}: one connection at a time, each connect,
 * send a small HTTP/1.0 request for a 1 KiB file, read the answer to EOF (the server closes after
 * it), close; the time from before the connect to the EOF is the figure. An answer that is not
 * {@code 200} with exactly the file's bytes after the headers counts as a failure. Bounded in
 * count and in time (5 s per connection, {@code seconds} in all).
 */
final class ConnectToEof {
    private static final int TIMEOUT_MS = 5000;

    /** Median and p99 (ms) of the connections that succeeded, how many did, how many failed and why the first did. */
    record Result(double p50Ms, double p99Ms, int done, int failures, String firstFailure) {}

    private ConnectToEof() {}

    /** Up to {@code count} connections to {@code target}, each asking for {@code path} ({@code bodyBytes} long); at most {@code seconds}. */
    static Result run(InetSocketAddress target, String path, int bodyBytes, int count, double seconds) {
        byte[] request = ("GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        long[] ns = new long[count];
        int done = 0;
        int failures = 0;
        String first = null;
        long end = System.nanoTime() + (long) (seconds * 1e9);
        for (int i = 0; i < count && System.nanoTime() < end; i++) {
            long t0 = System.nanoTime();
            try (Socket s = new Socket()) {
                s.setSoTimeout(TIMEOUT_MS);
                s.connect(target, TIMEOUT_MS);
                s.getOutputStream().write(request);
                byte[] answer = readToEof(s.getInputStream());
                long t = System.nanoTime() - t0;
                String bad = check(answer, bodyBytes);
                if (bad != null) {
                    throw new IOException(bad);
                }
                ns[done++] = t;
            } catch (IOException e) {
                failures++;
                if (first == null) {
                    first = e.toString();
                }
            }
        }
        long[] ok = Arrays.copyOf(ns, done);
        Arrays.sort(ok);
        return new Result(percentile(ok, 0.5) / 1e6, percentile(ok, 0.99) / 1e6, done, failures, first);
    }

    private static byte[] readToEof(InputStream in) throws IOException {
        return in.readNBytes(1 << 20); // far more than a 1 KiB answer; stops at EOF
    }

    /** Why {@code answer} is not a 200 whose body is {@code bodyBytes} long, or null when it is. */
    static String check(byte[] answer, int bodyBytes) {
        String head = new String(answer, 0, Math.min(answer.length, 4096), StandardCharsets.ISO_8859_1);
        int split = head.indexOf("\r\n\r\n");
        if (!head.startsWith("HTTP/1.") || head.length() < 12 || !head.substring(9, 12).equals("200")) {
            return "not a 200 answer: " + head.lines().findFirst().orElse("(empty)");
        }
        if (split < 0) {
            return "no end of headers in " + answer.length + " bytes";
        }
        int body = answer.length - split - 4;
        return body == bodyBytes ? null : "body of " + body + " bytes, not " + bodyBytes;
    }

    /** The value at quantile {@code q} of sorted {@code v} (nearest rank), NaN if empty. */
    static double percentile(long[] v, double q) {
        if (v.length == 0) {
            return Double.NaN;
        }
        int rank = Math.max(0, (int) Math.ceil(q * v.length) - 1);
        return v[Math.min(v.length - 1, rank)];
    }
}
