package org.sockmap4j.cli;

import java.io.Console;
import java.io.PrintStream;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import sun.misc.Signal;

/**
 * How long-running commands run: print one {@code ready} line on stdout, show live counters on
 * stderr (once a second, only on a terminal), and return when SIGINT or SIGTERM arrives or the
 * duration ends, so the caller can detach everything and exit 0.
 */
final class Runner {
    private Runner() {}

    /** Handles SIGINT and SIGTERM by releasing the returned latch instead of killing the JVM. */
    static CountDownLatch stopOnSignals() {
        CountDownLatch stop = new CountDownLatch(1);
        for (String sig : new String[] {"INT", "TERM"}) {
            Signal.handle(new Signal(sig), s -> stop.countDown());
        }
        return stop;
    }

    /**
     * Prints {@code ready} and waits until a signal or {@code durationSeconds} (0: no limit).
     *
     * @param status one line of live counters, shown on stderr when it is a terminal
     */
    static void runUntilStopped(String readyLine, long durationSeconds, Supplier<String> status)
            throws InterruptedException {
        runUntilStopped(readyLine, durationSeconds, status, null);
    }

    /** As above, also running {@code tick} once a second (e.g. a JSON line on stdout). */
    static void runUntilStopped(String readyLine, long durationSeconds, Supplier<String> status, Runnable tick)
            throws InterruptedException {
        CountDownLatch stop = stopOnSignals();
        System.out.println(readyLine);
        System.out.flush();
        Console console = System.console();
        boolean live = console != null && console.isTerminal();
        PrintStream err = System.err;
        long deadline = durationSeconds > 0 ? System.nanoTime() + TimeUnit.SECONDS.toNanos(durationSeconds) : Long.MAX_VALUE;
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0 || stop.await(Math.min(left, TimeUnit.SECONDS.toNanos(1)), TimeUnit.NANOSECONDS)) {
                break;
            }
            if (live) {
                err.print("\r" + status.get() + "   ");
                err.flush();
            }
            if (tick != null) {
                tick.run();
            }
        }
        if (live) {
            err.println();
        }
    }
}
