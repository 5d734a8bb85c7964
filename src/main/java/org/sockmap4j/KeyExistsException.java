package org.sockmap4j;

/**
 * EEXIST: the key already holds a socket; use UpdateFlag.ANY or EXIST to replace it.
 */
public final class KeyExistsException extends BpfException {
    private static final long serialVersionUID = 1L;

    KeyExistsException(String operation, String object, int errnoCode, String hint) {
        super(operation, object, errnoCode, hint);
    }
}
