package org.sockmap4j;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Objects;
import java.util.Set;

import org.sockmap4j.internal.sys.ApiCall;
import org.sockmap4j.internal.sys.Bpf;
import org.sockmap4j.internal.sys.Fd;

/**
 * Pinning on bpffs ({@code BPF_OBJ_PIN}) and reopening pins ({@code BPF_OBJ_GET}) for every kind.
 *
 * <p>A pin is a file whose permissions decide who may open the object again: {@code BPF_OBJ_GET}
 * checks read and write access to it like {@code open(2)}. The kernel creates pins with mode
 * {@code 0600 & ~umask}; this class then sets the mode explicitly, to {@link #OWNER_ONLY}
 * ({@code rw-------}) unless the caller asks for other permissions, so the result does not
 * depend on the process's umask. The mode is never wider than asked at any moment: the kernel's
 * initial mode is at most {@code 0600}. The containing directory is never changed.
 */
final class Pins {
    private Pins() {}

    /** {@code rw-------}: what a pin gets unless the caller asks otherwise. */
    static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    /** Pins {@code fd} at {@code path} with {@link #OWNER_ONLY}; {@code what} names the object in errors. */
    static void pin(int fd, Path path, String what) {
        pin(fd, path, what, OWNER_ONLY);
    }

    /**
     * Pins {@code fd} at {@code path}, then sets the pin's permissions to {@code permissions}.
     * If they cannot be set the pin is removed again and {@link IllegalStateException} thrown.
     */
    static void pin(int fd, Path path, String what, Set<PosixFilePermission> permissions) {
        Objects.requireNonNull(path, "path");
        Set<PosixFilePermission> perms = Set.copyOf(Objects.requireNonNull(permissions, "permissions"));
        try (Arena arena = Arena.ofConfined()) {
            long r = Bpf.objPin(fd, arena.allocateFrom(path.toString()));
            if (r < 0) {
                throw Errors.of("BPF_OBJ_PIN", what + " at " + path, (int) -r, Errors.Op.PIN);
            }
        }
        try {
            Files.setPosixFilePermissions(path, perms);
        } catch (IOException | RuntimeException e) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException ignored) {
                // reported below with the cause
            }
            throw new IllegalStateException("pinned " + what + " at " + path + " but could not set its permissions to "
                    + PosixFilePermissions.toString(perms) + ", so removed the pin again: " + e, e);
        }
    }

    /**
     * Opens the object pinned at {@code path} and checks that it is a {@code kind} ("map",
     * "program" or "link", as {@link Fd#bpfKind} names them).
     *
     * @throws IllegalArgumentException if it is another kind of object
     */
    static Fd open(Path path, String kind) {
        Objects.requireNonNull(path, "path");
        long r;
        try (Arena arena = Arena.ofConfined()) {
            r = Bpf.objGet(arena.allocateFrom(path.toString()), 0);
        }
        if (r < 0) {
            throw Errors.of("BPF_OBJ_GET", path.toString(), (int) -r, Errors.Op.OPEN_PINNED);
        }
        Fd fd = Fd.own((int) r, kind + " pinned at " + path);
        String actual = Fd.bpfKind(fd.get());
        if (!kind.equals(actual)) {
            fd.close();
            throw new IllegalArgumentException(ApiCall.name() + ": the object pinned at " + path + " is "
                    + (actual == null ? "no BPF map, program or link" : "a " + actual) + ", not a " + kind
                    + "; open it with the class of its kind");
        }
        return fd;
    }
}
