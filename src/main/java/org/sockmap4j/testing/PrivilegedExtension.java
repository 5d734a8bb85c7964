package org.sockmap4j.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.opentest4j.TestAbortedException;

/**
 * The extension behind {@link Privileged}: skips a test when the process lacks the privileges it
 * needs, or fails it when the system property {@value #REQUIRE_PROPERTY} is {@code true}.
 *
 * <p>The process counts as privileged when its effective capability set ({@code CapEff} in
 * {@code /proc/self/status}) holds {@code CAP_NET_ADMIN} and either {@code CAP_BPF} or
 * {@code CAP_SYS_ADMIN}; if that line cannot be read, when its effective uid is 0.
 *
 * <p>The static helpers are also used by the other harness classes: {@link #unavailable} turns a
 * failed set-up step (bpffs, cgroup2, ...) into a skip or, under {@value #REQUIRE_PROPERTY}, a
 * failure.
 */
public final class PrivilegedExtension implements ExecutionCondition, BeforeAllCallback, BeforeEachCallback {

    /** System property that turns a skip for lack of privilege or set-up into a failure. */
    public static final String REQUIRE_PROPERTY = "sockmap4j.requirePrivileged";

    /** Reason given when a test is skipped for lack of privilege. */
    public static final String SKIP_REASON = "needs root or CAP_BPF+CAP_NET_ADMIN";

    static final int CAP_NET_ADMIN = 12;
    static final int CAP_SYS_ADMIN = 21;
    static final int CAP_BPF = 39;

    private static volatile Boolean privileged;

    /** Creates the extension; JUnit does this through {@link Privileged}. */
    public PrivilegedExtension() {
    }

    /** Whether this process has the privileges privileged tests need (cached). */
    public static boolean isPrivileged() {
        Boolean p = privileged;
        if (p == null) {
            p = computePrivileged(readStatus());
            privileged = p;
        }
        return p;
    }

    /** Whether {@value #REQUIRE_PROPERTY} is {@code true}: missing privilege or set-up fails. */
    public static boolean requirePrivileged() {
        return Boolean.parseBoolean(System.getProperty(REQUIRE_PROPERTY, "false"));
    }

    /** A one-line description of this process's uid and effective capabilities, for messages. */
    public static String describeProcess() {
        List<String> status = readStatus();
        return "euid=" + field(status, "Uid:", 1) + ", CapEff=" + field(status, "CapEff:", 0);
    }

    /**
     * The exception to throw when a set-up step a test needs is not possible here: an
     * {@link IllegalStateException} (the test fails) under {@value #REQUIRE_PROPERTY}, else a
     * {@link TestAbortedException} (the test is skipped).
     *
     * @param what  what could not be set up, e.g. "bpffs"
     * @param cause the underlying error, or null
     */
    public static RuntimeException unavailable(String what, Throwable cause) {
        String message = what + " is not available (" + describeProcess() + ")";
        if (requirePrivileged()) {
            return new IllegalStateException(message + " and " + REQUIRE_PROPERTY + "=true", cause);
        }
        return new TestAbortedException(message, cause);
    }

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        if (isPrivileged()) {
            return ConditionEvaluationResult.enabled("privileged: " + describeProcess());
        }
        if (requirePrivileged()) {
            // Run it so that beforeAll/beforeEach fail it with an explanation.
            return ConditionEvaluationResult.enabled("not privileged, but " + REQUIRE_PROPERTY + "=true");
        }
        return ConditionEvaluationResult.disabled(SKIP_REASON);
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        failIfRequiredButUnprivileged(context);
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        failIfRequiredButUnprivileged(context);
    }

    private static void failIfRequiredButUnprivileged(ExtensionContext context) {
        if (!isPrivileged() && requirePrivileged()) {
            throw new IllegalStateException(context.getDisplayName() + " is @Privileged and "
                    + REQUIRE_PROPERTY + "=true, but this process " + SKIP_REASON + " ("
                    + describeProcess() + "); run the tests as root or without " + REQUIRE_PROPERTY);
        }
    }

    static boolean computePrivileged(List<String> status) {
        String capEff = field(status, "CapEff:", 0);
        if (capEff != null) {
            return hasPrivilegedCaps(Long.parseUnsignedLong(capEff, 16));
        }
        return "0".equals(field(status, "Uid:", 1));
    }

    static boolean hasPrivilegedCaps(long capEff) {
        return has(capEff, CAP_NET_ADMIN) && (has(capEff, CAP_BPF) || has(capEff, CAP_SYS_ADMIN));
    }

    private static boolean has(long caps, int bit) {
        return (caps & (1L << bit)) != 0;
    }

    /** The index-th whitespace-separated value after the given key in /proc/self/status, or null. */
    static String field(List<String> status, String key, int index) {
        for (String line : status) {
            if (line.startsWith(key)) {
                String[] parts = line.substring(key.length()).trim().split("\\s+");
                return index < parts.length ? parts[index] : null;
            }
        }
        return null;
    }

    private static List<String> readStatus() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status"));
        } catch (IOException e) {
            return List.of();
        }
    }
}
