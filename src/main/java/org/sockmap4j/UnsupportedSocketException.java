package org.sockmap4j;

/**
 * EOPNOTSUPP: the kernel refused to insert this socket; a socket map takes established or listening TCP, bound UDP, connected UNIX stream, UNIX dgram or connected VSOCK sockets.
 */
public final class UnsupportedSocketException extends BpfException {
    private static final long serialVersionUID = 1L;

    UnsupportedSocketException(String operation, String object, int errnoCode, String hint) {
        super(operation, object, errnoCode, hint);
    }
}
