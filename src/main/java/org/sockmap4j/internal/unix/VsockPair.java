package org.sockmap4j.internal.unix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A connected pair of AF_VSOCK sockets on the local CID ({@code VMADDR_CID_LOCAL}, 1), which
 * needs a loopback transport ({@code vsock_loopback}, CONFIG_VSOCKETS_LOOPBACK). The caller owns
 * both fds.
 *
 * @param client the connecting end
 * @param server the accepted end
 */
public record VsockPair(int client, int server) {
    private static final int VMADDR_CID_LOCAL = 1;
    private static final int VMADDR_PORT_ANY = -1;

    /** Thrown with the errno of the step that failed. */
    public static final class Failed extends Exception {
        private static final long serialVersionUID = 1L;
        private final int errno;

        Failed(String step, int errno) {
            super(step + " failed with errno " + errno);
            this.errno = errno;
        }

        /** The errno (positive). */
        public int errno() {
            return errno;
        }
    }

    /** Opens a pair of {@code type} (SOCK_STREAM or SOCK_SEQPACKET). */
    public static VsockPair open(int type) throws Failed {
        int listener = check("socket", Libc.socket(Libc.AF_VSOCK, type | Libc.SOCK_CLOEXEC, 0));
        int client = -1;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment addr = a.allocate(16, 4); // struct sockaddr_vm
            addr.set(JAVA_SHORT, 0, (short) Libc.AF_VSOCK);
            addr.set(JAVA_INT, 4, VMADDR_PORT_ANY);
            addr.set(JAVA_INT, 8, VMADDR_CID_LOCAL);
            check("bind", Libc.bind(listener, addr));
            check("listen", Libc.listen(listener, 1));
            MemorySegment len = a.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, 16);
            check("getsockname", Libc.getsockname(listener, addr, len));
            client = check("socket", Libc.socket(Libc.AF_VSOCK, type | Libc.SOCK_CLOEXEC, 0));
            check("connect", Libc.connect(client, addr));
            int server = check("accept", Libc.accept4(listener, Libc.SOCK_CLOEXEC));
            return new VsockPair(client, server);
        } catch (Failed | RuntimeException e) {
            if (client >= 0) {
                Libc.close(client);
            }
            throw e;
        } finally {
            Libc.close(listener);
        }
    }

    private static int check(String step, int r) throws Failed {
        if (r < 0) {
            throw new Failed(step, -r);
        }
        return r;
    }
}
