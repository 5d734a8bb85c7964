package org.sockmap4j;

/**
 * A kernel call failed. Names the operation (e.g. {@code "BPF_MAP_UPDATE_ELEM"}) and the object
 * it acted on, carries the {@link Errno}, and gives a hint a user can act on. Branch on the
 * subclass or on {@link #errno()}, never on the message text.
 *
 * <p>Subclasses for the errors callers handle: {@link KeyNotFoundException} (ENOENT),
 * {@link KeyExistsException} (EEXIST), {@link PermissionException} (EPERM, EACCES),
 * {@link UnsupportedSocketException} (EOPNOTSUPP when inserting a socket), {@link MapFullException}
 * (E2BIG when inserting).
 */
public class BpfException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String operation;
    private final String object;
    private final Errno errno;
    private final int errnoCode;
    private final String hint;

    BpfException(String operation, String object, int errnoCode, String hint) {
        super(message(operation, object, errnoCode, hint));
        this.operation = operation;
        this.object = object;
        this.errno = Errno.of(errnoCode);
        this.errnoCode = errnoCode;
        this.hint = hint;
    }

    private static String message(String op, String object, int code, String hint) {
        Errno e = Errno.of(code);
        String name = e == Errno.UNKNOWN ? "errno " + code : e.name();
        return op + " on " + object + ": " + name + (hint == null || hint.isEmpty() ? "" : " (" + hint + ")");
    }

    /** The kernel operation that failed, e.g. {@code BPF_MAP_CREATE} or {@code getsockopt(SO_COOKIE)}. */
    public String operation() {
        return operation;
    }

    /** What it acted on, e.g. {@code sockhash 'proxy' (id 42)}. */
    public String object() {
        return object;
    }

    /** The error; {@link Errno#UNKNOWN} when it has no name here (see {@link #errnoCode()}). */
    public Errno errno() {
        return errno;
    }

    /** The raw errno number. */
    public int errnoCode() {
        return errnoCode;
    }

    /** What to do about it; may be empty. */
    public String hint() {
        return hint == null ? "" : hint;
    }
}
