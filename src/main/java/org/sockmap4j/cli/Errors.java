package org.sockmap4j.cli;

import org.sockmap4j.BpfException;
import org.sockmap4j.NotSupportedException;
import org.sockmap4j.PermissionException;

/** One line that names what failed and what to do about it. */
final class Errors {
    private Errors() {}

    static String describe(Throwable e) {
        if (e instanceof PermissionException) {
            return "permission denied (" + ((BpfException) e).operation()
                    + "): run as root, or with CAP_BPF and CAP_NET_ADMIN";
        }
        if (e instanceof NotSupportedException n) {
            return (n.kernelFeature().isPresent() ? "this kernel lacks " : "this system lacks ") + n.feature() + ": "
                    + n.hint();
        }
        if (e instanceof UserError u) {
            return u.getMessage();
        }
        String m = e.getMessage();
        return m == null ? e.getClass().getSimpleName() : m;
    }

    /** A failure whose message is already the one line to show. */
    static final class UserError extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UserError(String message) {
            super(message);
        }
    }
}
