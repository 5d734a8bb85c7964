package org.sockmap4j;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.EnumSet;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.sockmap4j.Errors.Op;

/** {@link Errors}: which errno from which operation becomes which exception, with which hint. */
class ErrorsTest {

    private static final String OPERATION = "BPF_MAP_UPDATE_ELEM";
    private static final String OBJECT = "sockhash 'proxy' (key 7)";

    private static BpfException of(int errno, Op op) {
        return Errors.of(OPERATION, OBJECT, errno, op);
    }

    private static void assertCommon(BpfException e, Errno errno) {
        assertThat(e.operation()).isEqualTo(OPERATION);
        assertThat(e.object()).isEqualTo(OBJECT);
        assertThat(e.errno()).isEqualTo(errno);
        assertThat(e.errnoCode()).isEqualTo(errno.code());
        assertThat(e.getMessage()).startsWith(OPERATION + " on " + OBJECT + ": " + errno.name());
        if (!e.hint().isEmpty()) {
            assertThat(e.getMessage()).endsWith("(" + e.hint() + ")");
        }
    }

    static Stream<Arguments> typedCases() {
        return Stream.of(
                Arguments.of(Errno.ENOENT, Op.LOOKUP, KeyNotFoundException.class),
                Arguments.of(Errno.ENOENT, Op.DELETE, KeyNotFoundException.class),
                Arguments.of(Errno.ENOENT, Op.INSERT, KeyNotFoundException.class),
                Arguments.of(Errno.ENOENT, Op.ITERATE, KeyNotFoundException.class),
                Arguments.of(Errno.ENOENT, Op.PIN, BpfException.class),
                Arguments.of(Errno.ENOENT, Op.OPEN_PINNED, BpfException.class),
                Arguments.of(Errno.EEXIST, Op.INSERT, KeyExistsException.class),
                Arguments.of(Errno.EEXIST, Op.PIN, BpfException.class),
                Arguments.of(Errno.EPERM, Op.CREATE, PermissionException.class),
                Arguments.of(Errno.EPERM, Op.INSERT, PermissionException.class),
                Arguments.of(Errno.EPERM, Op.PIN, PermissionException.class),
                Arguments.of(Errno.EACCES, Op.CREATE, PermissionException.class),
                Arguments.of(Errno.EACCES, Op.OPEN_PINNED, PermissionException.class),
                Arguments.of(Errno.EACCES, Op.SOCKET, PermissionException.class),
                Arguments.of(Errno.EOPNOTSUPP, Op.INSERT, UnsupportedSocketException.class),
                Arguments.of(Errno.ENOTSUPP, Op.INSERT, UnsupportedSocketException.class),
                Arguments.of(Errno.EOPNOTSUPP, Op.LOOKUP, BpfException.class),
                Arguments.of(Errno.EOPNOTSUPP, Op.CREATE, BpfException.class),
                Arguments.of(Errno.EOPNOTSUPP, Op.ATTACH, BpfException.class),
                Arguments.of(Errno.ENOTSUPP, Op.ATTACH, BpfException.class),
                Arguments.of(Errno.E2BIG, Op.INSERT, MapFullException.class),
                Arguments.of(Errno.E2BIG, Op.CREATE, BpfException.class),
                Arguments.of(Errno.E2BIG, Op.LOOKUP, BpfException.class),
                Arguments.of(Errno.ENOSPC, Op.LOOKUP, BpfException.class),
                Arguments.of(Errno.ENOSPC, Op.INSERT, BpfException.class),
                Arguments.of(Errno.EBUSY, Op.ATTACH, BpfException.class),
                Arguments.of(Errno.EBUSY, Op.INSERT, BpfException.class),
                Arguments.of(Errno.EBADF, Op.INSERT, BpfException.class),
                Arguments.of(Errno.EBADF, Op.SOCKET, BpfException.class),
                Arguments.of(Errno.EINVAL, Op.INSERT, BpfException.class),
                Arguments.of(Errno.EINVAL, Op.CREATE, BpfException.class),
                Arguments.of(Errno.EINVAL, Op.DELETE, BpfException.class),
                Arguments.of(Errno.EINVAL, Op.PIN, BpfException.class),
                Arguments.of(Errno.EINVAL, Op.GENERIC, BpfException.class),
                Arguments.of(Errno.ENOTSOCK, Op.SOCKET, BpfException.class),
                Arguments.of(Errno.ENOMEM, Op.CREATE, BpfException.class),
                Arguments.of(Errno.ENOTDIR, Op.PIN, BpfException.class));
    }

    @ParameterizedTest(name = "{0} on {1} -> {2}")
    @MethodSource("typedCases")
    void errnoBecomesTheRightExceptionWithAHint(Errno errno, Op op, Class<? extends BpfException> type) {
        BpfException e = of(errno.code(), op);
        assertThat(e).isExactlyInstanceOf(type);
        assertCommon(e, errno);
        assertThat(e.hint()).isNotBlank();
    }

    @Test
    void hintsSayWhatToDo() {
        assertThat(of(Errno.EPERM.code(), Op.CREATE).hint()).contains("CAP_BPF");
        assertThat(of(Errno.EACCES.code(), Op.PIN).hint()).contains("CAP_BPF").contains("bpffs");
        assertThat(of(Errno.ENOSPC.code(), Op.LOOKUP).hint()).contains("value_size 8");
        assertThat(of(Errno.ENOENT.code(), Op.OPEN_PINNED).hint()).contains("bpffs");
        assertThat(of(Errno.ENOENT.code(), Op.ITERATE).hint()).contains("no more keys");
        assertThat(of(Errno.EEXIST.code(), Op.INSERT).hint()).contains("UpdateFlag");
        assertThat(of(Errno.EOPNOTSUPP.code(), Op.INSERT).hint()).contains("TCP");
        // an insert racing the socket's removal from its last map (seen by SockHashStressTest)
        assertThat(of(Errno.EBUSY.code(), Op.INSERT).hint()).contains("retry").doesNotContain("verdict");
        assertThat(of(Errno.EBUSY.code(), Op.ATTACH).hint()).contains("stream_verdict");
        assertThat(of(Errno.EBADF.code(), Op.INSERT).hint()).contains("fd");
        assertThat(of(Errno.ENOENT.code(), Op.ATTACH).hint()).contains("cgroup was removed");
        assertThat(of(Errno.ENOLINK.code(), Op.ATTACH).hint()).contains("detached");
    }

    @ParameterizedTest
    @EnumSource(Op.class)
    void everyOpMapsThePermissionAndNotFoundErrnos(Op op) {
        assertThat(of(1, op)).isExactlyInstanceOf(PermissionException.class);
        assertThat(of(13, op)).isExactlyInstanceOf(PermissionException.class);
        // ENOENT names a key only for element operations; for paths and attach targets (a removed
        // cgroup) it is a plain BpfException
        boolean notAKey = op == Op.PIN || op == Op.OPEN_PINNED || op == Op.OPEN_FILE || op == Op.ATTACH
                || op == Op.LOAD;
        assertThat(of(2, op)).isExactlyInstanceOf(notAKey ? BpfException.class : KeyNotFoundException.class);
        for (Errno e : EnumSet.of(Errno.ENOSPC, Errno.EBUSY, Errno.EBADF, Errno.EINVAL)) {
            BpfException ex = of(e.code(), op);
            assertThat(ex).isExactlyInstanceOf(BpfException.class);
            assertCommon(ex, e);
            assertThat(ex.hint()).as("hint for %s on %s", e, op).isNotBlank();
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {200, 74, 105, 0, 523, 525, 4095, -5})
    void unknownErrnoIsKeptAsANumber(int code) {
        BpfException e = of(code, Op.INSERT);
        assertThat(e).isExactlyInstanceOf(BpfException.class);
        assertThat(e.errno()).isEqualTo(Errno.UNKNOWN);
        assertThat(e.errnoCode()).isEqualTo(code);
        assertThat(e.operation()).isEqualTo(OPERATION);
        assertThat(e.object()).isEqualTo(OBJECT);
        assertThat(e.getMessage()).contains("errno " + code);
        assertThat(e.hint()).isNotNull();
    }

    @Test
    void unknownErrno200() {
        BpfException e = Errors.of("pidfd_getfd", "fd 3 of pid 1", 200, Op.SOCKET);
        assertThat(e.errno()).isEqualTo(Errno.UNKNOWN);
        assertThat(e.errnoCode()).isEqualTo(200);
        assertThat(e.operation()).isEqualTo("pidfd_getfd");
        assertThat(e.object()).isEqualTo("fd 3 of pid 1");
        assertThat(e).hasMessage("pidfd_getfd on fd 3 of pid 1: errno 200");
        assertThat(e.hint()).isEmpty();
    }

    @Test
    void everyNamedErrnoKeepsItsNumber() {
        for (Errno errno : Errno.values()) {
            if (errno == Errno.UNKNOWN) {
                continue;
            }
            for (Op op : Op.values()) {
                BpfException e = of(errno.code(), op);
                assertThat(e.errno()).isEqualTo(errno);
                assertThat(e.errnoCode()).isEqualTo(errno.code());
                assertThat(e.operation()).isEqualTo(OPERATION);
                assertThat(e.object()).isEqualTo(OBJECT);
            }
        }
    }

    // ---- Errno ----

    @ParameterizedTest
    @EnumSource(value = Errno.class, names = "UNKNOWN", mode = EnumSource.Mode.EXCLUDE)
    void errnoOfItsCodeIsItself(Errno errno) {
        assertThat(errno.code()).isPositive();
        assertThat(Errno.of(errno.code())).isSameAs(errno);
    }

    @Test
    void errnoNumbersAreTheLinuxOnes() {
        assertThat(Errno.EPERM.code()).isEqualTo(1);
        assertThat(Errno.ENOENT.code()).isEqualTo(2);
        assertThat(Errno.ESRCH.code()).isEqualTo(3);
        assertThat(Errno.E2BIG.code()).isEqualTo(7);
        assertThat(Errno.EBADF.code()).isEqualTo(9);
        assertThat(Errno.EACCES.code()).isEqualTo(13);
        assertThat(Errno.EBUSY.code()).isEqualTo(16);
        assertThat(Errno.EEXIST.code()).isEqualTo(17);
        assertThat(Errno.EINVAL.code()).isEqualTo(22);
        assertThat(Errno.ENOSPC.code()).isEqualTo(28);
        assertThat(Errno.ENOTSOCK.code()).isEqualTo(88);
        assertThat(Errno.EOPNOTSUPP.code()).isEqualTo(95);
        assertThat(Errno.ENOTSUPP.code()).isEqualTo(524);
        assertThat(Errno.UNKNOWN.code()).isEqualTo(-1);
    }

    @ParameterizedTest
    @ValueSource(ints = {-1, 0, 6, 74, 105, 200, 523, 525, 100_000, Integer.MIN_VALUE, Integer.MAX_VALUE})
    void errnoOfAnUnnamedCodeIsUnknown(int code) {
        assertThat(Errno.of(code)).isSameAs(Errno.UNKNOWN);
    }
}
