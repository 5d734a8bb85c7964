package org.sockmap4j.programs;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A client process with several connections at once, e.g. one to a local peer and one to a peer
 * outside the bypass, run as a child so a test can place it in a cgroup and a namespace first.
 * Arguments: {@code COUNT SIZE HOST:PORT...} (an IPv6 host in brackets). Protocol: prints
 * {@code ready}, waits for {@code go}, connects to every address in order, prints
 * {@code connected}; then each {@code start} line runs one round: COUNT messages of SIZE bytes on
 * every connection in turn, each echo read back and checked byte for byte, then {@code ok ROUND}
 * or {@code bad ...}. {@code end} closes the connections and exits.
 */
public final class MixClient {
    private MixClient() {}

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        int count = Integer.parseInt(args[0]);
        int size = Integer.parseInt(args[1]);
        System.out.println("ready");
        System.out.flush();
        if (!"go".equals(in.readLine())) {
            return;
        }
        List<SocketChannel> conns = new ArrayList<>();
        try {
            for (int i = 2; i < args.length; i++) {
                int colon = args[i].lastIndexOf(':');
                String host = args[i].substring(0, colon).replace("[", "").replace("]", "");
                SocketChannel c = SocketChannel.open(new InetSocketAddress(host, Integer.parseInt(args[i].substring(colon + 1))));
                c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                conns.add(c);
            }
            System.out.println("connected");
            System.out.flush();
            ByteBuffer out = ByteBuffer.allocate(size);
            ByteBuffer back = ByteBuffer.allocate(size);
            int round = 0;
            for (String line; (line = in.readLine()) != null && line.equals("start"); ) {
                round++;
                for (int i = 0; i < count; i++) {
                    for (int k = 0; k < conns.size(); k++) {
                        SocketChannel c = conns.get(k);
                        byte seed = (byte) (round * 7 + i * 31 + k * 13);
                        out.clear();
                        for (int j = 0; j < size; j++) {
                            out.put((byte) (seed + j));
                        }
                        out.flip();
                        while (out.hasRemaining()) {
                            c.write(out);
                        }
                        back.clear();
                        while (back.hasRemaining()) {
                            if (c.read(back) < 0) {
                                System.out.println("bad eof on connection " + k + " at message " + i);
                                System.out.flush();
                                return;
                            }
                        }
                        for (int j = 0; j < size; j++) {
                            if (back.get(j) != (byte) (seed + j)) {
                                System.out.println("bad byte " + j + " of message " + i + " on connection " + k);
                                System.out.flush();
                                return;
                            }
                        }
                    }
                }
                System.out.println("ok " + round);
                System.out.flush();
            }
        } finally {
            for (SocketChannel c : conns) {
                c.close();
            }
        }
    }
}
