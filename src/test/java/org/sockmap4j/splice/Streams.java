package org.sockmap4j.splice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.SplittableRandom;

/**
 * Reproducible byte streams for integrity tests: a stream is named by a seed and a length; the
 * sender writes it and returns the SHA-256 of what it wrote, the receiver reads to end of stream
 * and returns the SHA-256 and length of what arrived.
 */
public final class Streams {
    private Streams() {}

    /** What one end saw: bytes and their SHA-256 (hex). */
    public record Digest(long bytes, String sha256) {}

    /** Writes {@code length} pseudo-random bytes from {@code seed}; returns their digest. */
    public static Digest send(SocketChannel ch, long seed, long length, int chunk) throws IOException {
        MessageDigest md = sha256();
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[] block = new byte[chunk];
        ByteBuffer b = ByteBuffer.wrap(block);
        long left = length;
        while (left > 0) {
            int n = (int) Math.min(chunk, left);
            rnd.nextBytes(block);
            md.update(block, 0, n);
            b.clear().limit(n);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            left -= n;
        }
        return new Digest(length, HexFormat.of().formatHex(md.digest()));
    }

    /** Reads until end of stream; returns the digest of everything read. */
    public static Digest receive(SocketChannel ch, int chunk) throws IOException {
        MessageDigest md = sha256();
        ByteBuffer b = ByteBuffer.allocate(chunk);
        long total = 0;
        int n;
        while ((n = ch.read(b.clear())) >= 0) {
            md.update(b.array(), 0, n);
            total += n;
        }
        return new Digest(total, HexFormat.of().formatHex(md.digest()));
    }

    /**
     * Reads until end of stream, comparing with the stream {@link #send} writes for {@code seed};
     * returns null if identical, else where and how it differs (first differing offset, length,
     * and whether the bytes there repeat earlier ones: a replay).
     */
    public static String receiveAndCompare(SocketChannel ch, long seed, long length, int chunk) throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[] want = new byte[(int) length];
        for (int off = 0; off < length; off += chunk) {
            byte[] block = new byte[chunk];
            rnd.nextBytes(block);
            System.arraycopy(block, 0, want, off, (int) Math.min(chunk, length - off));
        }
        java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
        ByteBuffer b = ByteBuffer.allocate(64 * 1024);
        int n;
        while ((n = ch.read(b.clear())) >= 0) {
            got.write(b.array(), 0, n);
        }
        byte[] g = got.toByteArray();
        int first = java.util.Arrays.mismatch(want, g);
        if (first < 0) {
            return null;
        }
        String replay = "";
        if (first < g.length) {
            for (int back = 1; back <= first && back <= 16 << 20; back++) { // a repeat of earlier bytes?
                int m = Math.min(64, g.length - first);
                if (java.util.Arrays.equals(g, first, first + m, want, first - back, first - back + m)) {
                    replay = "; the bytes there repeat the " + back + " bytes before it";
                    break;
                }
            }
        }
        return "received " + g.length + " bytes, expected " + length + "; first difference at offset " + first
                + replay;
    }

    /** The digest {@link #send} would return, computed without a socket. */
    public static Digest expected(long seed, long length, int chunk) {
        MessageDigest md = sha256();
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[] block = new byte[chunk];
        for (long left = length; left > 0; left -= chunk) {
            rnd.nextBytes(block);
            md.update(block, 0, (int) Math.min(chunk, left));
        }
        return new Digest(length, HexFormat.of().formatHex(md.digest()));
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
