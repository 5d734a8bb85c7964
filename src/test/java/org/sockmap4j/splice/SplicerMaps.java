package org.sockmap4j.splice;

import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;

import org.sockmap4j.SockHash;
import org.sockmap4j.Splicer;
import org.sockmap4j.internal.sys.Fd;
import org.sockmap4j.testing.Exec;

/**
 * What a Splicer's BPF maps hold, read from the outside for tests: the entries of {@code socks},
 * {@code targets} (sock hashes, through the library) and {@code peers} (a hash map, through
 * {@code bpftool map dump id}). The Splicer keeps them private; tests reach them by reflection.
 */
public final class SplicerMaps {
    private SplicerMaps() {}

    /** Entries in socks, targets and peers. */
    public record Entries(int socks, int targets, int peers) {
        public static final Entries NONE = new Entries(0, 0, 0);
    }

    public static Entries of(Splicer splicer) {
        try {
            SockHash<?> socks = (SockHash<?>) field(splicer, "socks");
            SockHash<?> targets = (SockHash<?>) field(splicer, "targets");
            Fd peersFd = (Fd) field(field(splicer, "peers"), "fd");
            return new Entries(socks.keys().size(), targets.keys().size(), hashEntries(peersFd.get()));
        } catch (ReflectiveOperationException | java.io.IOException e) {
            throw new IllegalStateException("cannot read the Splicer's maps", e);
        }
    }

    private static Object field(Object o, String name) throws ReflectiveOperationException {
        Field f = o.getClass().getDeclaredField(name);
        f.setAccessible(true);
        return f.get(o);
    }

    /** Entries of the BPF hash map behind {@code mapFd} of this process. */
    private static int hashEntries(int mapFd) throws java.io.IOException {
        String id = null;
        for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo/" + mapFd))) {
            if (line.startsWith("map_id:")) {
                id = line.substring("map_id:".length()).strip();
            }
        }
        if (id == null) {
            throw new IllegalStateException("fd " + mapFd + " is not a BPF map");
        }
        String json = Exec.check("bpftool", "-j", "map", "dump", "id", id);
        int n = 0;
        for (int i = json.indexOf("\"key\""); i >= 0; i = json.indexOf("\"key\"", i + 1)) {
            n++;
        }
        // with BTF, bpftool prints each entry twice: the raw bytes, then {"formatted": {"key": ...}}
        return json.contains("\"formatted\"") ? n / 2 : n;
    }
}
