package org.sockmap4j.testing;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.LifecycleMethodExecutionExceptionHandler;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;
import org.sockmap4j.NotSupportedException;

/**
 * Turns a {@link NotSupportedException} that names a probed kernel feature, thrown by a test or
 * its set-up, into the same outcome as {@link KernelAssume#has}: a skip whose reason starts with
 * "kernel lacks", or a failure when the running kernel's version is known to have the feature (a
 * broken probe). The library throws that exception only when its probe says the feature is
 * missing, so a test written for the newest kernel skips on an older one exactly where the
 * library refuses, and fails everywhere else. Applied by {@link Privileged}.
 */
public final class KernelFeatureExtension implements TestExecutionExceptionHandler,
        LifecycleMethodExecutionExceptionHandler {

    /** Creates the extension; JUnit does this through {@link Privileged}. */
    public KernelFeatureExtension() {
    }

    @Override
    public void handleTestExecutionException(ExtensionContext context, Throwable t) throws Throwable {
        skipIfKernelLacks(t);
    }

    @Override
    public void handleBeforeAllMethodExecutionException(ExtensionContext context, Throwable t) throws Throwable {
        skipIfKernelLacks(t);
    }

    @Override
    public void handleBeforeEachMethodExecutionException(ExtensionContext context, Throwable t) throws Throwable {
        skipIfKernelLacks(t);
    }

    private static void skipIfKernelLacks(Throwable t) throws Throwable {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof NotSupportedException ns && ns.kernelFeature().isPresent()) {
                KernelAssume.has(ns.kernelFeature().get()); // skips, or fails on a broken probe
                break; // the probe says present: the exception stands as a failure
            }
        }
        throw t;
    }
}
