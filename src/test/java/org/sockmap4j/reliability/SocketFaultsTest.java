package org.sockmap4j.reliability;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.sockmap4j.KeyCodec;
import org.sockmap4j.SockHash;
import org.sockmap4j.SockMap;
import org.sockmap4j.SocketMap;
import org.sockmap4j.Sockets;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What happens to a TCP socket's map entry when its connection fails or ends while the socket is
 * in a SOCKMAP or SOCKHASH, as the kernel decides it: closing the socket's fd (with or without a
 * reset) removes the entry; a reset from the peer, the peer's FIN, a shutdown, and even a
 * connection ended in TIME_WAIT leave it in place while the fd is open (Linux 6.4+; before, the
 * kernel also removed a socket that reached TCP_CLOSE). Closing the fd then removes it in every
 * case. See {@link SocketMap}.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class SocketFaultsTest {
    private static final int WAIT_MILLIS = 2000;
    private static final int QUIET_MILLIS = 150;
    /** Linux 6.4 stopped removing sockets from maps when TCP unhashes them (reset, TIME_WAIT). */
    private static final boolean KEEPS_UNHASHED = atLeast(6, 4);

    enum MapKind { SOCKMAP, SOCKHASH }

    enum Fault {
        CLOSE(true), CLOSE_WITH_RESET(true), PEER_RESET(false), PEER_CLOSE(false), SHUTDOWN_WRITE(false),
        SHUTDOWN_BOTH(false), TIME_WAIT(false);

        /** Whether the entry leaves the map by itself. */
        final boolean removes;

        Fault(boolean removes) {
            this.removes = removes;
        }

        /** Whether this fault takes the socket to TCP_CLOSE while its fd is open (removed before 6.4). */
        boolean unhashes() {
            return this == PEER_RESET || this == TIME_WAIT;
        }

        void apply(TcpPair tcp) throws IOException, InterruptedException {
            switch (this) {
                case CLOSE -> tcp.client().close();
                case CLOSE_WITH_RESET -> {
                    tcp.client().setOption(StandardSocketOptions.SO_LINGER, 0);
                    tcp.client().close(); // sends RST
                }
                case PEER_RESET -> {
                    tcp.accepted().setOption(StandardSocketOptions.SO_LINGER, 0);
                    tcp.accepted().close();
                }
                case PEER_CLOSE -> tcp.accepted().close(); // FIN: the socket goes to CLOSE_WAIT
                case SHUTDOWN_WRITE -> tcp.client().shutdownOutput();
                case SHUTDOWN_BOTH -> {
                    tcp.client().shutdownOutput();
                    tcp.client().shutdownInput();
                }
                case TIME_WAIT -> { // our FIN first, then the peer's: TIME_WAIT, the fd still open
                    tcp.client().shutdownOutput();
                    Thread.sleep(20);
                    tcp.accepted().close();
                }
                default -> throw new AssertionError(this);
            }
        }
    }

    private static boolean atLeast(int major, int minor) {
        String[] v = System.getProperty("os.version").split("[.-]");
        int ma = Integer.parseInt(v[0]);
        int mi = Integer.parseInt(v[1].replaceAll("\\D.*", ""));
        return ma != major ? ma > major : mi >= minor;
    }

    private static boolean eventually(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT_MILLIS * 1_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(5);
        }
        return true;
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Fault.class)
    void anEntryLeavesTheMapOnlyWhenItsSocketIsClosed(Fault fault) throws Exception {
        for (MapKind kind : MapKind.values()) {
            try (TcpPair tcp = TcpPair.open();
                 SocketMap<Integer> map = kind == MapKind.SOCKMAP ? SockMap.create(1) : SockHash.create(KeyCodec.u32(), 1)) {
                map.put(0, tcp.client());
                long cookie = Sockets.cookie(tcp.client());
                assertThat(map.cookie(0)).isEqualTo(cookie);

                fault.apply(tcp);

                if (fault.removes) {
                    assertThat(eventually(() -> !map.containsKey(0))).as("%s: entry removed", kind).isTrue();
                    assertThat(map.keys()).isEmpty();
                    continue;
                }
                Thread.sleep(QUIET_MILLIS);
                boolean olderKernelMayRemove = fault.unhashes() && !KEEPS_UNHASHED;
                if (!olderKernelMayRemove) {
                    assertThat(map.containsKey(0)).as("%s: entry kept after %s", kind, fault).isTrue();
                    assertThat(map.cookie(0)).isEqualTo(cookie);
                }
                tcp.client().close();
                assertThat(eventually(() -> !map.containsKey(0))).as("%s: entry removed by close", kind).isTrue();
                assertThat(map.keys()).isEmpty();
            }
        }
    }
}
