package org.sockmap4j.cli;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Callable;

import org.sockmap4j.ConnectionKey;
import org.sockmap4j.KeyCodec;
import org.sockmap4j.MapInfo;
import org.sockmap4j.MapType;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockMap;
import org.sockmap4j.SocketMap;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code sockmap map dump}: the entries of a pinned socket map. */
@Command(name = "map", description = "Inspect socket maps.", subcommands = MapCommand.Dump.class)
final class MapCommand {
    @Command(name = "dump", description = "Print the entries (key and socket cookie) of a pinned SOCKMAP or SOCKHASH.")
    static final class Dump implements Callable<Integer> {
        @Parameters(paramLabel = "PINNED_PATH", description = "The map's pin on bpffs.")
        Path path;

        @Option(names = "--json", description = "Print JSON.")
        boolean json;

        @Option(names = "--verbose", description = "Print stack traces on errors.")
        boolean verbose;

        /**
         * Whether {@code p} lies on a bpffs mount: the mount whose device is the file's. Not
         * {@code Files.getFileStore(p).type()}: with two mounts stacked on one directory (a sysfs
         * bind mount under a bpffs at /sys/fs/bpf, as on this project's machines) the JDK names the
         * lower one.
         */
        static boolean onBpffs(Path p) throws java.io.IOException {
            long dev = (Long) Files.getAttribute(p, "unix:dev");
            long major = ((dev >>> 8) & 0xfff) | ((dev >>> 32) & ~0xfffL);
            long minor = (dev & 0xff) | ((dev >>> 12) & ~0xffL);
            String want = major + ":" + minor;
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                String[] f = line.split(" ");
                int dash = java.util.Arrays.asList(f).indexOf("-");
                if (f.length > 2 && f[2].equals(want) && dash > 0 && dash + 1 < f.length) {
                    return "bpf".equals(f[dash + 1]);
                }
            }
            return false;
        }

        @Override
        public Integer call() {
            Privileges.require("sockmap map dump");
            if (!Files.exists(path)) {
                throw new Errors.UserError("nothing pinned at " + path + " (is bpffs mounted there?)");
            }
            try {
                if (Files.isDirectory(path) || !onBpffs(path)) {
                    throw new Errors.UserError(path + " is not a BPF pin (pins are files on a bpffs mount)");
                }
            } catch (java.io.IOException e) {
                throw new Errors.UserError("cannot read " + path + ": " + e.getMessage());
            }
            MapInfo info;
            try {
                info = SocketMap.infoOfPinned(path);
            } catch (IllegalArgumentException e) { // a program or link pinned there
                throw new Errors.UserError(path + " holds a pinned program or link, not a map; map dump reads a "
                        + "pinned sockmap or sockhash");
            }
            StringBuilder out = new StringBuilder();
            if (info.type() == MapType.SOCKMAP) {
                try (SockMap m = SockMap.openPinned(path)) {
                    print(out, info, m.entries(), k -> Integer.toString(k), k -> null);
                }
            } else if (info.type() == MapType.SOCKHASH) {
                try (SockHash<byte[]> m = SockHash.openPinned(path, KeyCodec.bytes(info.keySize()))) {
                    print(out, info, m.entries(), k -> HexFormat.of().formatHex(k),
                            k -> k.length == ConnectionKey.SIZE ? decode(k) : null);
                }
            } else {
                throw new Errors.UserError(path + " is a map of type " + info.type().name().toLowerCase() + " ("
                        + info.typeValue() + "), not a sockmap or sockhash");
            }
            System.out.print(out);
            return 0;
        }

        private static String decode(byte[] k) {
            try {
                return ConnectionKey.codec().decode(ByteBuffer.wrap(k).order(ByteOrder.nativeOrder())).toString();
            } catch (RuntimeException e) {
                return null; // 44 bytes but not a connection key
            }
        }

        private <K> void print(StringBuilder out, MapInfo info, List<SocketMap.Entry<K>> entries,
                java.util.function.Function<K, String> key, java.util.function.Function<K, String> tuple) {
            if (json) {
                out.append("{\"id\":").append(info.id()).append(",\"type\":\"").append(info.type().name().toLowerCase())
                        .append("\",\"name\":\"").append(Json.escape(info.name())).append("\",\"entries\":[");
                for (int i = 0; i < entries.size(); i++) {
                    SocketMap.Entry<K> e = entries.get(i);
                    String t = tuple.apply(e.key());
                    out.append(i == 0 ? "" : ",").append("{\"key\":\"").append(key.apply(e.key())).append('"')
                            .append(t == null ? "" : ",\"connection\":\"" + Json.escape(t) + "\"")
                            .append(",\"cookie\":").append(e.cookie()).append('}');
                }
                out.append("]}\n");
            } else {
                out.append(info.type().name().toLowerCase()).append(" id ").append(info.id()).append(" '")
                        .append(info.name()).append("' ").append(entries.size()).append(" of ").append(info.maxEntries())
                        .append(" entries\n");
                for (SocketMap.Entry<K> e : entries) {
                    String t = tuple.apply(e.key());
                    out.append("key ").append(key.apply(e.key())).append(t == null ? "" : " (" + t + ")")
                            .append(" cookie ").append(e.cookie()).append('\n');
                }
            }
        }
    }
}
