package org.sockmap4j;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Objects;

import org.sockmap4j.internal.sys.ApiCall;
import org.sockmap4j.internal.sys.Bpf;
import org.sockmap4j.internal.sys.Fd;

/** Pinning on bpffs ({@code BPF_OBJ_PIN}) and reopening pins ({@code BPF_OBJ_GET}) for every kind. */
final class Pins {
    private Pins() {}

    /** Pins {@code fd} at {@code path}; {@code what} names the object in errors. */
    static void pin(int fd, Path path, String what) {
        Objects.requireNonNull(path, "path");
        try (Arena arena = Arena.ofConfined()) {
            long r = Bpf.objPin(fd, arena.allocateFrom(path.toString()));
            if (r < 0) {
                throw Errors.of("BPF_OBJ_PIN", what + " at " + path, (int) -r, Errors.Op.PIN);
            }
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
