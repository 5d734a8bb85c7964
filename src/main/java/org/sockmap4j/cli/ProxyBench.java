package org.sockmap4j.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code bench proxy}: the same transfers direct, through a {@code copy} proxy and through a
 * {@code splice} proxy, all on loopback. Each proxy runs as its own process (this tool, {@code
 * proxy --mode ...}) so its CPU time can be read from {@code /proc/PID/stat}. The upstream is an
 * echo server in this process; clients send and read back concurrently.
 */
final class ProxyBench implements AutoCloseable {
    private static final Pattern READY = Pattern.compile("ready proxy listen=[^ ]*:(\\d+) ");
    private static final int PING_SIZE = 64;

    /** One mode's figures. */
    record Row(String mode, double gbps, double meanUs, double p99Us, double proxyCpuSeconds, double seconds) {}

    private final ServerSocketChannel echo;
    private final Thread echoAcceptor;
    private final List<SocketChannel> echoConnections = new ArrayList<>();

    ProxyBench() throws IOException {
        echo = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1024);
        echoAcceptor = Thread.ofPlatform().daemon().name("bench-echo").start(this::acceptEcho);
    }

    private void acceptEcho() {
        while (echo.isOpen()) {
            try {
                SocketChannel c = echo.accept();
                synchronized (echoConnections) {
                    echoConnections.add(c);
                }
                Thread.ofVirtual().start(() -> echoLoop(c));
            } catch (IOException e) {
                return;
            }
        }
    }

    private static void echoLoop(SocketChannel c) {
        try (c) {
            c.setOption(StandardSocketOptions.TCP_NODELAY, true);
            ByteBuffer b = ByteBuffer.allocateDirect(256 * 1024);
            while (c.read(b) >= 0) {
                b.flip();
                while (b.hasRemaining()) {
                    c.write(b);
                }
                b.clear();
            }
        } catch (IOException e) {
            // client gone
        }
    }

    int echoPort() throws IOException {
        return ((InetSocketAddress) echo.getLocalAddress()).getPort();
    }

    /** Runs the three transfers and the latency test for one mode ("direct", "copy" or "splice"). */
    Row run(String mode, int connections, long bytesPerConnection, int pings) throws Exception {
        Process proxy = null;
        int port = echoPort();
        try {
            if (!mode.equals("direct")) {
                proxy = startProxy(mode);
                port = readyPort(proxy);
            }
            InetSocketAddress target = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
            double[] lat = latency(target, pings);
            long cpu0 = proxy == null ? 0 : cpuTicks(proxy.pid());
            long t0 = System.nanoTime();
            throughput(target, connections, bytesPerConnection);
            double secs = (System.nanoTime() - t0) / 1e9;
            long cpu1 = proxy == null ? 0 : cpuTicks(proxy.pid());
            double gbps = 2.0 * connections * bytesPerConnection * 8 / secs / 1e9;
            return new Row(mode, gbps, lat[0], lat[1], (cpu1 - cpu0) / 100.0, secs);
        } finally {
            if (proxy != null) {
                proxy.destroy(); // SIGTERM: the proxy detaches and exits
                if (!proxy.waitFor(10, TimeUnit.SECONDS)) {
                    proxy.destroyForcibly();
                }
            }
        }
    }

    private Process startProxy(String mode) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                Main.class.getName(), "proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:" + echoPort(),
                "--mode", mode));
        return new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    }

    private static int readyPort(Process p) throws IOException {
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = r.readLine();
        Matcher m = line == null ? null : READY.matcher(line);
        if (m == null || !m.find()) {
            throw new Errors.UserError("the proxy did not start: " + line);
        }
        return Integer.parseInt(m.group(1));
    }

    /** utime + stime of a process, in clock ticks (USER_HZ, 100 on Linux). */
    private static long cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    /** {mean, p99} of the round trip of PING_SIZE-byte messages, in microseconds. */
    private static double[] latency(InetSocketAddress target, int pings) throws IOException {
        try (SocketChannel c = SocketChannel.open(target)) {
            c.setOption(StandardSocketOptions.TCP_NODELAY, true);
            ByteBuffer b = ByteBuffer.allocateDirect(PING_SIZE);
            long[] rtt = new long[pings];
            for (int i = -pings / 10; i < pings; i++) { // the first tenth warms up
                b.clear();
                long t = System.nanoTime();
                while (b.hasRemaining()) {
                    c.write(b);
                }
                b.clear();
                while (b.hasRemaining()) {
                    if (c.read(b) < 0) {
                        throw new IOException("closed during the latency test");
                    }
                }
                if (i >= 0) {
                    rtt[i] = System.nanoTime() - t;
                }
            }
            Arrays.sort(rtt);
            return new double[] {Arrays.stream(rtt).average().orElse(0) / 1000.0, rtt[(int) (pings * 0.99)] / 1000.0};
        }
    }

    /** Each connection sends {@code bytes} and reads them back, concurrently. */
    private static void throughput(InetSocketAddress target, int connections, long bytes) throws Exception {
        List<Thread> threads = new ArrayList<>();
        List<Throwable> failures = new ArrayList<>();
        for (int i = 0; i < connections; i++) {
            SocketChannel c = SocketChannel.open(target);
            Thread reader = Thread.ofPlatform().start(() -> {
                try (c) {
                    ByteBuffer b = ByteBuffer.allocateDirect(256 * 1024);
                    long got = 0;
                    while (got < bytes) {
                        b.clear();
                        int n = c.read(b);
                        if (n < 0) {
                            throw new IOException("closed after " + got + " bytes");
                        }
                        got += n;
                    }
                } catch (Throwable t) {
                    synchronized (failures) {
                        failures.add(t);
                    }
                }
            });
            Thread writer = Thread.ofPlatform().start(() -> {
                try {
                    ByteBuffer b = ByteBuffer.allocateDirect(256 * 1024);
                    long sent = 0;
                    while (sent < bytes) {
                        b.clear().limit((int) Math.min(b.capacity(), bytes - sent));
                        sent += c.write(b);
                    }
                } catch (Throwable t) {
                    synchronized (failures) {
                        failures.add(t);
                    }
                }
            });
            threads.add(reader);
            threads.add(writer);
        }
        for (Thread t : threads) {
            if (!t.join(java.time.Duration.ofMinutes(5))) {
                throw new Errors.UserError("a transfer did not finish in 5 minutes");
            }
        }
        if (!failures.isEmpty()) {
            throw new Errors.UserError("a transfer failed: " + failures.get(0));
        }
    }

    @Override
    public void close() throws IOException {
        echo.close();
        synchronized (echoConnections) {
            for (SocketChannel c : echoConnections) {
                c.close();
            }
        }
    }
}
