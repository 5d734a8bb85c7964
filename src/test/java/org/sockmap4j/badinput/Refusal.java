package org.sockmap4j.badinput;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.sockmap4j.BpfException;
import org.sockmap4j.Errno;

/**
 * The contract every bad input in this package is held to: the call throws exactly the expected
 * type; the message names the operation (the kernel call, or the library method for checks made
 * before any kernel call) and the object; and it carries an actionable hint. For a
 * {@link BpfException} the three are also its {@code operation()}, {@code object()} and
 * {@code hint()}, and the errno is the kernel's.
 */
final class Refusal {
    private Refusal() {}

    /**
     * Asserts that {@code call} throws exactly {@code type} whose message contains
     * {@code operation}, {@code object} and {@code hint}.
     *
     * @return the exception, for further checks
     */
    static <T extends Throwable> T assertRefused(ThrowingCallable call, Class<T> type, String operation,
            String object, String hint) {
        Throwable t = catchThrowable(call);
        assertThat(t).as("the call should have failed").isNotNull();
        assertThat(t).isExactlyInstanceOf(type);
        String message = t.getMessage();
        assertThat(message).as("message of %s", t).contains(operation).contains(object).contains(hint);
        if (t instanceof BpfException b) {
            assertThat(b.operation()).isEqualTo(operation);
            assertThat(b.object()).contains(object);
            assertThat(b.hint()).contains(hint);
        } else {
            assertThat(message).as("message of %s", t).startsWith(operation);
        }
        return type.cast(t);
    }

    /** As {@link #assertRefused}, for a kernel (or libbpf) error: also checks the errno. */
    static <T extends BpfException> T assertKernelRefused(ThrowingCallable call, Class<T> type, Errno errno,
            String operation, String object, String hint) {
        T e = assertRefused(call, type, operation, object, hint);
        assertThat(e.errno()).isEqualTo(errno);
        assertThat(e.errnoCode()).isEqualTo(errno.code());
        return e;
    }

    /** As {@link #assertKernelRefused} for an errno without a name here (libbpf's own codes, 4000+). */
    static <T extends BpfException> T assertKernelRefused(ThrowingCallable call, Class<T> type, int errnoCode,
            String operation, String object, String hint) {
        T e = assertRefused(call, type, operation, object, hint);
        assertThat(e.errnoCode()).isEqualTo(errnoCode);
        return e;
    }
}
