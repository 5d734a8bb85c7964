package org.sockmap4j.reliability;

import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;

/**
 * Run as a child JVM by {@link PeerDeathTest}: connects to {@code 127.0.0.1:args[0]}, prints
 * {@code connected}, never reads, and waits for its standard input to close (it is killed first).
 */
public final class SilentPeer {
    private SilentPeer() {}

    public static void main(String[] args) throws Exception {
        try (SocketChannel c = SocketChannel.open(new InetSocketAddress(InetAddress.getLoopbackAddress(),
                Integer.parseInt(args[0])))) {
            System.out.println("connected");
            System.out.flush();
            InputStream in = System.in;
            while (in.read() >= 0) {
                // wait to be killed
            }
        }
    }
}
