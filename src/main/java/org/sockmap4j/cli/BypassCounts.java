package org.sockmap4j.cli;

import org.sockmap4j.recipes.LocalBypass;

/**
 * What a bypass did during the runs of one bench row: messages and bytes its sk_msg program
 * redirected to a local peer or passed to TCP, and (LocalBypass only, else -1) the sockets it put
 * in its map and those it left alone because their peer was not a bypassed socket.
 */
record BypassCounts(long redirectedMessages, long redirectedBytes, long passedMessages, long passedBytes,
        long socketsInserted, long socketsNotLocal) {
    static final BypassCounts ZERO = new BypassCounts(0, 0, 0, 0, 0, 0);

    static BypassCounts of(LocalBypass.Stats s) {
        return new BypassCounts(s.redirectedMessages(), s.redirectedBytes(), s.passedMessages(), s.passedBytes(),
                s.socketsInserted(), s.socketsNotLocal());
    }

    BypassCounts plus(BypassCounts o) {
        return new BypassCounts(redirectedMessages + o.redirectedMessages, redirectedBytes + o.redirectedBytes,
                passedMessages + o.passedMessages, passedBytes + o.passedBytes,
                socketsInserted < 0 || o.socketsInserted < 0 ? -1 : socketsInserted + o.socketsInserted,
                socketsNotLocal < 0 || o.socketsNotLocal < 0 ? -1 : socketsNotLocal + o.socketsNotLocal);
    }
}
