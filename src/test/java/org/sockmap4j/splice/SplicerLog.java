package org.sockmap4j.splice;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/**
 * Keeps what the library logs at DEBUG and above while open ({@code System.getLogger} goes to
 * {@code java.util.logging} when no other finder is installed; DEBUG is FINE there), so that a
 * failed test can show what the Splicer decided and when. Restores the logger's level on close.
 */
final class SplicerLog implements AutoCloseable {
    private static final SimpleFormatter FORMAT = new SimpleFormatter();

    private final Logger logger = Logger.getLogger("org.sockmap4j"); // held: JUL keeps loggers weakly
    private final Level before = logger.getLevel();
    private final List<String> lines = new CopyOnWriteArrayList<>();
    private final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord r) {
            lines.add(FORMAT.formatMessage(r));
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    };

    SplicerLog() {
        handler.setLevel(Level.FINE);
        logger.setLevel(Level.FINE);
        logger.addHandler(handler);
    }

    /** What was logged since this capture began, one message per line. */
    String text() {
        return String.join("\n", lines);
    }

    @Override
    public void close() {
        logger.removeHandler(handler);
        logger.setLevel(before);
    }
}
