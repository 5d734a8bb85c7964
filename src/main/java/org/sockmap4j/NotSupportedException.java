package org.sockmap4j;

/**
 * The running kernel or system lacks a feature sockmap4j needs; names the feature and the kernel
 * version (or package) that brings it.
 */
public final class NotSupportedException extends BpfException {
    private static final long serialVersionUID = 1L;

    private final String feature;

    NotSupportedException(String operation, String feature, int errnoCode, String hint) {
        super(operation, feature, errnoCode, hint);
        this.feature = feature;
    }

    /** The missing feature, e.g. {@code "libbpf"} or {@code "sockmap links (Linux 6.10)"}. */
    public String feature() {
        return feature;
    }
}
