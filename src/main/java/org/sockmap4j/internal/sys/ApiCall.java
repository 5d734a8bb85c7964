package org.sockmap4j.internal.sys;

import java.lang.StackWalker.StackFrame;
import java.security.CodeSource;
import java.util.Iterator;
import java.util.Objects;

/**
 * Names the library method a failing call came in through (e.g. {@code "SockMap.put"}), for
 * messages that a closed or misused object raises deep inside the library. It walks the stack, so
 * it is for error paths only: the outermost frame of this library before the caller's code.
 */
public final class ApiCall {
    private ApiCall() {}

    private static final StackWalker WALKER = StackWalker.getInstance(StackWalker.Option.RETAIN_CLASS_REFERENCE);
    private static final String PACKAGE = "org.sockmap4j";
    private static final String CLI = "org.sockmap4j.cli";

    /** {@code Class.method} of the library's entry point on this thread's stack, or "sockmap4j". */
    public static String name() {
        return WALKER.walk(frames -> {
            String entry = "sockmap4j";
            for (Iterator<StackFrame> it = frames.iterator(); it.hasNext();) {
                StackFrame f = it.next();
                Class<?> c = f.getDeclaringClass();
                if (!isLibrary(c)) {
                    break;
                }
                if (c != ApiCall.class && !f.getMethodName().startsWith("lambda$")) {
                    entry = c.getName().substring(c.getPackageName().length() + 1).replace('$', '.') + "."
                            + f.getMethodName();
                }
            }
            return entry;
        });
    }

    /**
     * Whether {@code c} is part of this library (its package, loaded from the same place), not a
     * caller's class. The CLI counts as a caller: its messages name the library call it made.
     */
    private static boolean isLibrary(Class<?> c) {
        return c.getPackageName().startsWith(PACKAGE) && !c.getPackageName().startsWith(CLI)
                && Objects.equals(location(c.getProtectionDomain().getCodeSource()),
                        location(ApiCall.class.getProtectionDomain().getCodeSource()));
    }

    private static Object location(CodeSource s) {
        return s == null ? null : s.getLocation();
    }
}
