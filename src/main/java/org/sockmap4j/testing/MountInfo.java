package org.sockmap4j.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One line of {@code /proc/self/mountinfo}, and the parser for that file.
 *
 * @param mountId    the mount's id
 * @param parentId   the parent mount's id
 * @param device     the file system's device, "major:minor"
 * @param root       the path inside the file system that is mounted (usually "/")
 * @param mountPoint where it is mounted
 * @param fsType     the file system type, e.g. "bpf" or "cgroup2"
 * @param source     the mount source
 */
record MountInfo(int mountId, int parentId, String device, String root, Path mountPoint, String fsType, String source) {

    static final Path FILE = Path.of("/proc/self/mountinfo");

    /** All mounts visible to this process, in file order (later entries stack over earlier ones). */
    static List<MountInfo> read() {
        try {
            List<MountInfo> mounts = new ArrayList<>();
            for (String line : Files.readAllLines(FILE)) {
                if (!line.isBlank()) {
                    mounts.add(parse(line));
                }
            }
            return mounts;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The mount currently visible at exactly this mount point (the last one stacked there). */
    static Optional<MountInfo> at(Path mountPoint) {
        MountInfo found = null;
        for (MountInfo m : read()) {
            if (m.mountPoint().equals(mountPoint)) {
                found = m;
            }
        }
        return Optional.ofNullable(found);
    }

    /**
     * Whether this mount is what a lookup of its mount point reaches now: the last mount stacked
     * there, and not hidden by a mount over a parent directory (checked by comparing st_dev).
     */
    boolean isVisible() {
        if (at(mountPoint).filter(this::equals).isEmpty()) {
            return false;
        }
        try {
            Object dev = Files.getAttribute(mountPoint, "unix:dev");
            return dev instanceof Long d && d == stDev();
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return false;
        }
    }

    /** The device number as stat(2) reports it (glibc's makedev encoding of "major:minor"). */
    long stDev() {
        int colon = device.indexOf(':');
        long major = Long.parseLong(device.substring(0, colon));
        long minor = Long.parseLong(device.substring(colon + 1));
        return ((major & 0xfffff000L) << 32) | ((major & 0xfffL) << 8) | ((minor & 0xffffff00L) << 12) | (minor & 0xffL);
    }

    /** Parses one line: "id parent major:minor root mountpoint opts [optional...] - fstype source superopts". */
    static MountInfo parse(String line) {
        String[] f = line.trim().split(" ");
        int dash = -1;
        for (int i = 6; i < f.length; i++) {
            if (f[i].equals("-")) {
                dash = i;
                break;
            }
        }
        if (dash < 0 || dash + 1 >= f.length) {
            throw new IllegalArgumentException("unexpected mountinfo line: " + line);
        }
        String source = dash + 2 < f.length ? unescape(f[dash + 2]) : "";
        return new MountInfo(Integer.parseInt(f[0]), Integer.parseInt(f[1]), f[2], unescape(f[3]),
                Path.of(unescape(f[4])), unescape(f[dash + 1]), source);
    }

    /** Undoes the kernel's octal escapes (\040 for space, \011, \012, \134). */
    static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && isOctal(s, i + 1)) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    private static boolean isOctal(String s, int from) {
        if (from + 3 > s.length()) {
            return false;
        }
        for (int i = from; i < from + 3; i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '7') {
                return false;
            }
        }
        return true;
    }
}
