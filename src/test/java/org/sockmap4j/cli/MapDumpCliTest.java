package org.sockmap4j.cli;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.sockmap4j.ConnectionKey;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockMap;
import org.sockmap4j.Sockets;
import org.sockmap4j.testing.BpfFs;
import org.sockmap4j.testing.Exec;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TempBpfDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code sockmap map dump PINNED_PATH [--json]} on maps this test pins: a SOCKHASH keyed by
 * {@link ConnectionKey} holding both ends of a loopback TCP connection, a SOCKMAP holding one of
 * them, an empty SOCKHASH; and the errors for a path with nothing pinned and for other kinds of map.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
class MapDumpCliTest {
    private static final Pattern HASH_LINE =
            Pattern.compile("key ([0-9a-f]{88}) \\((inet6? \\S+ -> \\S+)\\) cookie (\\d+)");

    private TempBpfDir pins;
    private ServerSocketChannel server;
    private SocketChannel client;
    private SocketChannel accepted;
    private SockHash<ConnectionKey> hash;
    private SockMap map;
    private Path hashPin;
    private Path mapPin;
    /** Expected SOCKHASH entries: cookie -> the key as the library encodes and prints it. */
    private final Map<Long, ConnectionKey> expected = new HashMap<>();

    @BeforeEach
    void pinMaps() throws Exception {
        pins = BpfFs.tempDir();
        server = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        client = SocketChannel.open(server.getLocalAddress());
        accepted = server.accept();
        hash = SockHash.builder(ConnectionKey.codec()).maxEntries(8).name("cli_hash").create();
        map = SockMap.builder().maxEntries(4).name("cli_map").create();
        for (SocketChannel s : List.of(client, accepted)) {
            ConnectionKey k = ConnectionKey.of(Sockets.fd(s));
            hash.put(k, s);
            expected.put(Sockets.cookie(s), k);
        }
        map.put(2, client);
        hashPin = pins.resolve("hash");
        mapPin = pins.resolve("map");
        hash.pin(hashPin);
        map.pin(mapPin);
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {map, hash, accepted, client, server, pins}) {
            if (c != null) {
                c.close();
            }
        }
    }

    private static String hex(ConnectionKey k) {
        ByteBuffer b = ByteBuffer.allocate(ConnectionKey.SIZE).order(ByteOrder.nativeOrder());
        ConnectionKey.codec().encode(k, b);
        return HexFormat.of().formatHex(b.array());
    }

    @Test
    @Timeout(120)
    void sockhashLinesShowKeyConnectionAndCookie() {
        Cli.Result r = Cli.run("map", "dump", hashPin.toString());
        assertThat(r.exit()).as("%s", r).isZero();
        assertThat(r.stderr()).as("%s", r).isEmpty();
        List<String> lines = r.out();
        assertThat(lines).as("%s", r).hasSize(3);
        assertThat(lines.get(0)).isEqualTo("sockhash id " + hash.id() + " 'cli_hash' 2 of 8 entries");
        Map<Long, String> seen = new HashMap<>();
        for (String line : lines.subList(1, 3)) {
            Matcher m = HASH_LINE.matcher(line);
            assertThat(m.matches()).as("entry line '%s'", line).isTrue();
            long cookie = Long.parseLong(m.group(3));
            ConnectionKey k = expected.get(cookie);
            assertThat(k).as("cookie %d is one of the sockets' (%s)", cookie, expected.keySet()).isNotNull();
            assertThat(m.group(1)).isEqualTo(hex(k));
            assertThat(m.group(2)).isEqualTo(k.toString());
            seen.put(cookie, m.group(2));
        }
        assertThat(seen.keySet()).containsExactlyInAnyOrderElementsOf(expected.keySet());
        // the two ends of one loopback connection, seen from each side
        int port = ((InetSocketAddress) server.socket().getLocalSocketAddress()).getPort();
        assertThat(seen.get(Sockets.cookie(client))).endsWith("127.0.0.1:" + port);
        assertThat(seen.get(Sockets.cookie(accepted))).contains("127.0.0.1:" + port + " -> ");
    }

    @Test
    @Timeout(120)
    void sockhashJson() {
        Cli.Result r = Cli.run("map", "dump", hashPin.toString(), "--json");
        assertThat(r.exit()).as("%s", r).isZero();
        assertThat(r.stderr()).as("%s", r).isEmpty();
        assertThat(r.out()).as("one line of JSON").hasSize(1);
        Map<String, Object> top = MiniJson.object(r.out().get(0));
        assertThat(top).containsOnlyKeys("id", "type", "name", "entries");
        assertThat(((Number) top.get("id")).intValue()).isEqualTo(hash.id());
        assertThat(top.get("type")).isEqualTo("sockhash");
        assertThat(top.get("name")).isEqualTo("cli_hash");
        List<Object> entries = MiniJson.arr(top.get("entries"));
        assertThat(entries).hasSize(2);
        Map<Long, Object> byCookie = new HashMap<>();
        for (Object o : entries) {
            Map<String, Object> e = MiniJson.obj(o);
            assertThat(e).containsOnlyKeys("key", "connection", "cookie");
            long cookie = ((Number) e.get("cookie")).longValue();
            ConnectionKey k = expected.get(cookie);
            assertThat(k).as("cookie %d", cookie).isNotNull();
            assertThat(e.get("key")).isEqualTo(hex(k));
            assertThat(e.get("connection")).isEqualTo(k.toString());
            byCookie.put(cookie, e);
        }
        assertThat(byCookie.keySet()).containsExactlyInAnyOrderElementsOf(expected.keySet());
    }

    @Test
    @Timeout(120)
    void sockmapTextAndJson() {
        long cookie = Sockets.cookie(client);
        Cli.Result r = Cli.run("map", "dump", mapPin.toString());
        assertThat(r.exit()).as("%s", r).isZero();
        assertThat(r.stderr()).as("%s", r).isEmpty();
        assertThat(r.out()).containsExactly("sockmap id " + map.id() + " 'cli_map' 1 of 4 entries",
                "key 2 cookie " + cookie);

        Cli.Result j = Cli.run("map", "dump", "--json", mapPin.toString());
        assertThat(j.exit()).as("%s", j).isZero();
        assertThat(j.out()).hasSize(1);
        Map<String, Object> top = MiniJson.object(j.out().get(0));
        assertThat(((Number) top.get("id")).intValue()).isEqualTo(map.id());
        assertThat(top.get("type")).isEqualTo("sockmap");
        assertThat(top.get("name")).isEqualTo("cli_map");
        List<Object> entries = MiniJson.arr(top.get("entries"));
        assertThat(entries).hasSize(1);
        Map<String, Object> e = MiniJson.obj(entries.get(0));
        assertThat(e).containsOnlyKeys("key", "cookie");
        assertThat(e.get("key").toString()).isEqualTo("2");
        assertThat(((Number) e.get("cookie")).longValue()).isEqualTo(cookie);
    }

    @Test
    @Timeout(120)
    void entriesFollowTheMapNotTheCliRun() {
        // what the dump shows is the kernel's current content, read through the pin
        hash.delete(expected.get(Sockets.cookie(accepted)));
        map.delete(2);
        Cli.Result h = Cli.run("map", "dump", hashPin.toString());
        assertThat(h.exit()).as("%s", h).isZero();
        assertThat(h.out()).hasSize(2);
        assertThat(h.out().get(0)).endsWith(" 1 of 8 entries");
        assertThat(h.out().get(1)).endsWith(" cookie " + Sockets.cookie(client));

        Cli.Result m = Cli.run("map", "dump", mapPin.toString(), "--json");
        assertThat(m.exit()).as("%s", m).isZero();
        assertThat(MiniJson.arr(MiniJson.object(m.out().get(0)).get("entries"))).isEmpty();
        Cli.Result mt = Cli.run("map", "dump", mapPin.toString());
        assertThat(mt.out()).containsExactly("sockmap id " + map.id() + " 'cli_map' 0 of 4 entries");
    }

    @Test
    @Timeout(120)
    void nothingPinnedIsOneLineAndExit1() {
        Path absent = pins.resolve("absent");
        Cli.Result r = Cli.run("map", "dump", absent.toString());
        Cli.assertOneLineError(r, 1, "nothing pinned at " + absent);
    }

    @Test
    @Timeout(120)
    void pinnedArrayMapIsRejectedWithItsType() {
        Path arr = pins.resolve("array");
        Exec.check("bpftool", "map", "create", arr.toString(), "type", "array", "key", "4", "value", "4",
                "entries", "1", "name", "cli_array");
        Cli.Result r = Cli.run("map", "dump", arr.toString());
        Cli.assertOneLineError(r, 1, arr.toString(), "array", "not a sockmap or sockhash");
        Cli.Result j = Cli.run("map", "dump", arr.toString(), "--json");
        Cli.assertOneLineError(j, 1, "not a sockmap or sockhash");
    }

    @Test
    @Timeout(120)
    void pathThatIsNotAPinIsOneLineAndExit1(@TempDir Path tmp) throws Exception {
        Path file = Files.writeString(tmp.resolve("not-a-pin"), "hello");
        Cli.Result r = Cli.run("map", "dump", file.toString());
        Cli.assertOneLineError(r, 1);
        Cli.Result d = Cli.run("map", "dump", pins.path().toString());
        Cli.assertOneLineError(d, 1);
    }

    @Test
    @Timeout(120)
    void pathThatIsNotAPinIsNotCalledAPermissionProblem(@TempDir Path tmp) throws Exception {
        Path file = Files.writeString(tmp.resolve("not-a-pin"), "hello");
        for (Path p : List.of(file, pins.path())) {
            String line = Cli.assertOneLineError(Cli.run("map", "dump", p.toString()), 1, p.toString());
            assertThat(line).doesNotContain("run as root").doesNotContain("permission denied");
        }
    }
}
