package org.sockmap4j.examples;

import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

import org.sockmap4j.ConnectionKey;
import org.sockmap4j.SockHash;
import org.sockmap4j.Sockets;

/** The README's quickstart, compiled and run by the test suite. */
public class Quickstart {
    public static void main(String[] args) throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel client = SocketChannel.open(server.getLocalAddress());
             SocketChannel accepted = server.accept();
             SockHash<ConnectionKey> conns = SockHash.builder(ConnectionKey.codec())
                     .maxEntries(1024).name("conns").create()) {
            ConnectionKey key = ConnectionKey.of(client);     // the 4-tuple as BPF programs see it
            conns.put(key, client);                           // BPF_MAP_UPDATE_ELEM
            conns.put(key.reversed(), accepted);
            System.out.println(conns.cookie(key) == Sockets.cookie(client)); // true: SO_COOKIE
            for (SockHash.Entry<ConnectionKey> e : conns.entries()) {
                System.out.println(e.key() + " -> cookie " + e.cookie());
            }
        } // closing the map releases it; closed sockets leave it by themselves
    }
}
