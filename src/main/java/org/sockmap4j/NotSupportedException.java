package org.sockmap4j;

/**
 * The running kernel or system lacks a feature sockmap4j needs; names the feature and the kernel
 * version (or package) that brings it.
 */
public final class NotSupportedException extends BpfException {
    private static final long serialVersionUID = 1L;

    private final String feature;
    private final transient KernelFeatures.Feature kernelFeature;

    NotSupportedException(String operation, String feature, int errnoCode, String hint) {
        this(operation, feature, null, errnoCode, hint);
    }

    NotSupportedException(String operation, KernelFeatures.Feature f, int errnoCode, String hint) {
        this(operation, f.description(), f, errnoCode, hint);
    }

    private NotSupportedException(String operation, String feature, KernelFeatures.Feature f, int errnoCode,
            String hint) {
        super(operation, feature, errnoCode, hint);
        this.feature = feature;
        this.kernelFeature = f;
    }

    /** The missing feature, e.g. {@code "libbpf"} or {@code "sockmap links (Linux 6.10)"}. */
    public String feature() {
        return feature;
    }

    /**
     * The probed kernel feature that is missing, when the error is about one (see
     * {@link KernelFeatures}); empty when it is about the system (e.g. libbpf not installed).
     */
    public java.util.Optional<KernelFeatures.Feature> kernelFeature() {
        return java.util.Optional.ofNullable(kernelFeature);
    }
}
