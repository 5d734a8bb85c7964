package org.sockmap4j.recipes;

import java.util.ArrayDeque;
import java.util.Deque;

/** What a recipe opened, closed in reverse order (attachments first, the object last). */
final class Recipe implements AutoCloseable {
    private final Deque<AutoCloseable> opened = new ArrayDeque<>();

    /** Removes every socket from {@code map}, so the programs they were inserted with stop. */
    static <K> void clear(org.sockmap4j.SocketMap<K> map) {
        if (map == null || map.isClosed()) {
            return;
        }
        if (map instanceof org.sockmap4j.SockMap m) {
            for (int i = 0; i < m.maxEntries(); i++) {
                m.deleteIfPresent(i);
            }
            return;
        }
        for (K k : map.keys()) {
            map.deleteIfPresent(k);
        }
    }

    <T extends AutoCloseable> T add(T c) {
        opened.push(c);
        return c;
    }

    @Override
    public void close() {
        RuntimeException first = null;
        while (!opened.isEmpty()) {
            try {
                opened.pop().close();
            } catch (Exception e) {
                if (first == null) {
                    first = e instanceof RuntimeException re ? re : new IllegalStateException(e);
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
