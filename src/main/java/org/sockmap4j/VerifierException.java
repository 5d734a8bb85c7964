package org.sockmap4j;

/**
 * The kernel refused to load a BPF program ({@code BPF_PROG_LOAD}, usually the verifier). The
 * message ends with the last lines of the log; {@link #log()} has all of libbpf's output for the
 * load, with the verifier log between {@code -- BEGIN PROG LOAD LOG --} and {@code -- END ... --}.
 */
public final class VerifierException extends BpfException {
    private static final long serialVersionUID = 1L;

    private final String log;

    VerifierException(String operation, String object, int errnoCode, String log) {
        super(operation, object, errnoCode, "the program was rejected; last log lines:\n" + tail(log, 6));
        this.log = log;
    }

    /** The whole log. */
    public String log() {
        return log;
    }

    static String tail(String log, int lines) {
        String[] all = log.strip().split("\n");
        StringBuilder sb = new StringBuilder();
        for (int i = Math.max(0, all.length - lines); i < all.length; i++) {
            sb.append("  ").append(all[i]).append('\n');
        }
        return sb.toString().stripTrailing();
    }
}
