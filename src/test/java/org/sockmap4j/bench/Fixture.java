package org.sockmap4j.bench;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

import org.sockmap4j.ConnectionKey;
import org.sockmap4j.KeyCodec;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockMap;
import org.sockmap4j.Sockets;
import org.sockmap4j.UpdateFlag;

/**
 * One loopback TCP connection and one map of the kind under test, with the operations the
 * benchmarks time, bound to a fixed key so that no call boxes or allocates.
 */
final class Fixture implements AutoCloseable {
    /** The map kinds compared with C. */
    static final String SOCKMAP = "sockmap";
    static final String SOCKHASH_U32 = "sockhash_u32";
    static final String SOCKHASH_TUPLE = "sockhash_tuple";

    private static final Integer KEY = 7; // from the Integer cache: no allocation

    final ServerSocketChannel server;
    final SocketChannel client;
    final SocketChannel accepted;
    final int fd;
    private final SockMap sockMap;
    private final SockHash<Integer> hashU32;
    private final SockHash<ConnectionKey> hashTuple;
    private final ConnectionKey tuple;

    Fixture(String kind) throws IOException {
        server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        client = SocketChannel.open(server.getLocalAddress());
        accepted = server.accept();
        fd = Sockets.fd(client);
        tuple = ConnectionKey.of(fd);
        sockMap = kind.equals(SOCKMAP) ? SockMap.builder().maxEntries(16).name("bench").create() : null;
        hashU32 = kind.equals(SOCKHASH_U32) ? SockHash.builder(KeyCodec.u32()).maxEntries(16).name("bench").create()
                : null;
        hashTuple = kind.equals(SOCKHASH_TUPLE)
                ? SockHash.builder(ConnectionKey.codec()).maxEntries(16).name("bench").create() : null;
    }

    void put(UpdateFlag flag) {
        if (sockMap != null) {
            sockMap.put(7, fd, flag);
        } else if (hashU32 != null) {
            hashU32.put(KEY, fd, flag);
        } else {
            hashTuple.put(tuple, fd, flag);
        }
    }

    void remove() {
        if (sockMap != null) {
            sockMap.delete(7);
        } else if (hashU32 != null) {
            hashU32.delete(KEY);
        } else {
            hashTuple.delete(tuple);
        }
    }

    long cookie() {
        if (sockMap != null) {
            return sockMap.cookie(7);
        } else if (hashU32 != null) {
            return hashU32.cookie(KEY);
        }
        return hashTuple.cookie(tuple);
    }

    /** The map's fd (for the same-process C loops). */
    int mapFd() {
        return sockMap != null ? sockMap.fd() : hashU32 != null ? hashU32.fd() : hashTuple.fd();
    }

    /** The key the operations use, as the kernel sees it, in {@code arena}. */
    MemorySegment key(Arena arena) {
        if (hashTuple == null) {
            return arena.allocateFrom(ValueLayout.JAVA_INT, KEY);
        }
        MemorySegment key = arena.allocate(ConnectionKey.codec().size());
        ConnectionKey.codec().encode(tuple, key.asByteBuffer().order(ByteOrder.nativeOrder()));
        return key;
    }

    @Override
    public void close() throws IOException {
        for (AutoCloseable c : new AutoCloseable[] {sockMap, hashU32, hashTuple, accepted, client, server}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                throw new IOException(e);
            }
        }
    }
}
