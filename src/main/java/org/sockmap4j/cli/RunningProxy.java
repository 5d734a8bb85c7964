package org.sockmap4j.cli;

import java.io.IOException;

/**
 * A proxy {@code bench proxy} started in front of an upstream: ours ({@link ProxyProcess}) or a
 * peer ({@link PeerProxy}), each in its own cgroup, which gives its CPU time.
 */
interface RunningProxy extends AutoCloseable {
    /** The loopback port it listens on. */
    int port();

    /**
     * Stops it gracefully and returns the bytes it says it moved, or -1 where it does not say
     * (every peer).
     */
    long stop() throws IOException, InterruptedException;

    /** Kills whatever of it still runs and removes what it left behind. */
    @Override
    void close();
}
