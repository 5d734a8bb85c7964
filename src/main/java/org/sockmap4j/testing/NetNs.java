package org.sockmap4j.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A named network namespace made for one test with {@code ip netns add sm4j-<random>}.
 *
 * <p>Run commands in it with {@link #exec(String...)} or {@link #run(String...)}, or start a JVM in
 * it with {@link ChildProcess#startIn}. Connect two of them with
 * {@link #vethPair(NetNs, String, NetNs, String)}. {@link #close()} kills every process still in
 * the namespace and deletes it (which also destroys its veth devices).
 *
 * <p>Only the addresses a test gives to {@code vethPair} (and loopback) exist inside; the root
 * namespace is never touched.
 */
public final class NetNs implements AutoCloseable {

    private static final AtomicInteger VETH_COUNTER = new AtomicInteger();

    private final String name;
    private boolean closed;

    private NetNs(String name) {
        this.name = name;
    }

    /**
     * Creates a uniquely named network namespace (with loopback up).
     *
     * @throws IllegalStateException if {@code ip netns add} fails
     */
    public static NetNs create() {
        String name = "sm4j-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
        Exec.check("ip", "netns", "add", name);
        NetNs ns = new NetNs(name);
        try {
            Exec.check("ip", "-n", name, "link", "set", "lo", "up");
        } catch (RuntimeException e) {
            ns.close();
            throw e;
        }
        return ns;
    }

    /** The namespace's name, as in {@code ip netns list} and {@code /run/netns/NAME}. */
    public String name() {
        return name;
    }

    /** {@code /run/netns/NAME}: open it to get a namespace fd for {@code setns(2)}. */
    public Path path() {
        return Path.of("/run/netns", name);
    }

    /** A builder for {@code ip netns exec NAME cmd...}; the caller starts and owns the process. */
    public ProcessBuilder exec(String... cmd) {
        List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", name));
        command.addAll(List.of(cmd));
        return new ProcessBuilder(command);
    }

    /** Runs {@code cmd} inside the namespace to completion; throws if it exits non-zero. */
    public Exec.Result run(String... cmd) {
        return Exec.run(exec(cmd), Exec.DEFAULT_TIMEOUT).check();
    }

    /** The pids of the processes now in this namespace ({@code ip netns pids NAME}). */
    public List<Long> pids() {
        Exec.Result r = Exec.run("ip", "netns", "pids", name);
        if (!r.ok()) {
            return List.of();
        }
        return r.stdout().lines().map(String::strip).filter(s -> !s.isEmpty()).map(Long::parseLong).toList();
    }

    /**
     * One end of a veth pair in each namespace, with their addresses.
     *
     * @param a       the first namespace
     * @param ifA     the device name in {@code a}
     * @param addrA   its address, without prefix length
     * @param b       the second namespace
     * @param ifB     the device name in {@code b}
     * @param addrB   its address, without prefix length
     */
    public record Veth(NetNs a, String ifA, String addrA, NetNs b, String ifB, String addrB) {
    }

    /**
     * Creates a veth pair with one end in {@code a} and the other in {@code b}, gives them the
     * addresses (an IPv4 address without prefix gets /24, an IPv6 one /64) and brings both ends and
     * both loopbacks up, waiting until both ends report carrier.
     *
     * @param addrA e.g. "10.0.0.1" or "10.0.0.1/24"
     * @param addrB e.g. "10.0.0.2" or "10.0.0.2/24"
     */
    public static Veth vethPair(NetNs a, String addrA, NetNs b, String addrB) {
        Objects.requireNonNull(a, "a");
        Objects.requireNonNull(b, "b");
        if (a == b || a.name.equals(b.name)) {
            throw new IllegalArgumentException("vethPair needs two different namespaces");
        }
        int n = VETH_COUNTER.incrementAndGet();
        String ifA = "sm4jv" + n + "a";
        String ifB = "sm4jv" + n + "b";
        Exec.check("ip", "-n", a.name, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", b.name);
        configure(a, ifA, addrA);
        configure(b, ifB, addrB);
        awaitUp(a, ifA);
        awaitUp(b, ifB);
        return new Veth(a, ifA, stripPrefix(addrA), b, ifB, stripPrefix(addrB));
    }

    private static void configure(NetNs ns, String dev, String addr) {
        List<String> cmd = new ArrayList<>(List.of("ip", "-n", ns.name, "addr", "add", withPrefix(addr), "dev", dev));
        if (addr.contains(":")) {
            cmd.add("nodad");
        }
        Exec.run(cmd).check();
        Exec.check("ip", "-n", ns.name, "link", "set", "lo", "up");
        Exec.check("ip", "-n", ns.name, "link", "set", dev, "up");
    }

    private static void awaitUp(NetNs ns, String dev) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        String last = "";
        while (System.nanoTime() < deadline) {
            last = Exec.check("ip", "-n", ns.name, "-o", "link", "show", "dev", dev);
            if (last.contains("LOWER_UP") && last.contains("state UP")) {
                return;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        throw new IllegalStateException(dev + " in " + ns.name + " did not come up: " + last.strip());
    }

    static String withPrefix(String addr) {
        if (addr.contains("/")) {
            return addr;
        }
        return addr + (addr.contains(":") ? "/64" : "/24");
    }

    static String stripPrefix(String addr) {
        int slash = addr.indexOf('/');
        return slash < 0 ? addr : addr.substring(0, slash);
    }

    /**
     * Kills (SIGKILL) every process still in the namespace, waits for them, and deletes it.
     * Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (int round = 0; round < 3; round++) {
            List<ProcessHandle> victims = pids().stream()
                    .map(ProcessHandle::of).flatMap(java.util.Optional::stream).toList();
            if (victims.isEmpty()) {
                break;
            }
            victims.forEach(ProcessHandle::destroyForcibly);
            for (ProcessHandle p : victims) {
                try {
                    p.onExit().get(5, TimeUnit.SECONDS);
                } catch (Exception ignored) {
                    // checked again next round
                }
            }
        }
        Exec.Result r = Exec.run("ip", "netns", "del", name);
        if (!r.ok() && Files.exists(path())) {
            throw new IllegalStateException("ip netns del " + name + " failed: " + r.stderr().strip());
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
