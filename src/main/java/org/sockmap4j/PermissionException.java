package org.sockmap4j;

/**
 * EPERM or EACCES: the caller lacks the privilege for a BPF operation; it needs root or CAP_BPF+CAP_NET_ADMIN.
 */
public final class PermissionException extends BpfException {
    private static final long serialVersionUID = 1L;

    PermissionException(String operation, String object, int errnoCode, String hint) {
        super(operation, object, errnoCode, hint);
    }
}
