package org.sockmap4j.programs;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

import org.sockmap4j.Sockets;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A child process for policy tests: listens on [::]:PORT, dual stack (so IPv4 and IPv6
 * connections in its namespace complete), prints {@code ready}; then for each line {@code send HOST} connects to HOST:PORT,
 * sends one byte with {@code send(2)} and prints {@code sent N} or {@code errno E} (the number,
 * captured by the FFM linker), and closes the connection. {@code quit} ends it.
 */
public final class PolicyClient {
    private PolicyClient() {}

    public static void main(String[] args) throws Throwable {
        int port = Integer.parseInt(args[0]);
        Linker linker = Linker.nativeLinker();
        MethodHandle send = linker.downcallHandle(linker.defaultLookup().find("send").orElseThrow(),
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT),
                Linker.Option.captureCallState("errno"));
        VarHandle errno = Linker.Option.captureStateLayout().varHandle(MemoryLayout.PathElement.groupElement("errno"));
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        try (ServerSocketChannel srv = ServerSocketChannel.open().bind(new InetSocketAddress("::", port), 64);
             Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(Linker.Option.captureStateLayout());
            MemorySegment buf = arena.allocate(1);
            System.out.println("ready");
            System.out.flush();
            String line;
            while ((line = in.readLine()) != null && line.startsWith("send ")) {
                try (SocketChannel c = SocketChannel.open(new InetSocketAddress(line.substring(5), port))) {
                    long n = (long) send.invokeExact(state, Sockets.fd(c), buf, 1L, 0);
                    System.out.println(n < 0 ? "errno " + (int) errno.get(state, 0L) : "sent " + n);
                }
                System.out.flush();
            }
        }
    }
}
