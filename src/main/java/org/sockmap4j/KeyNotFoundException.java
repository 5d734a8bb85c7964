package org.sockmap4j;

/**
 * ENOENT: the key (or, for a sockmap, the slot) holds no socket; the kernel also removes an entry when its socket closes.
 */
public final class KeyNotFoundException extends BpfException {
    private static final long serialVersionUID = 1L;

    KeyNotFoundException(String operation, String object, int errnoCode, String hint) {
        super(operation, object, errnoCode, hint);
    }
}
