package org.sockmap4j.programs;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.sockmap4j.AttachType;
import org.sockmap4j.KeyNotFoundException;
import org.sockmap4j.Sockets;
import org.sockmap4j.programs.ConnectedPair.Kind;
import org.sockmap4j.testing.Exec;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.sockmap4j.programs.RedirectFixture.eventually;

/**
 * The ways the talk lists to end a redirect, each applied to a working one: (A) close the source
 * socket, (B) delete it from the map, (C) close the map, the object and the attachment, (D)
 * disconnect a socket with {@code connect(AF_UNSPEC)}. Two TCP connections on loopback: the
 * source {@code a1<->b1} (a1 at index 0) and the target {@code a2<->b2} (a2 at index 1,
 * {@code config[0] = 1}). After each teardown the test checks the map's entries and where fresh
 * writes go.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class TeardownTest {
    private static final int WAIT_MILLIS = 3000;
    private static final int QUIET_MILLIS = 200;
    private static final AtomicInteger SEQ = new AtomicInteger();

    /** The two "to local" modes: received by a1 (sk_skb) or sent by a1 (sk_msg), queued on a2. */
    enum Mode {
        INGRESS_TO_LOCAL, SEND_TO_LOCAL;

        boolean skMsg() {
            return this == SEND_TO_LOCAL;
        }
    }

    @TempDir
    Path dir;

    private RedirectFixture f;
    private ConnectedPair src;
    private ConnectedPair dst;
    private Mode mode;

    @AfterEach
    void tearDown() {
        for (AutoCloseable c : new AutoCloseable[] {src, dst, f}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception ignored) {
                // keep closing the rest
            }
        }
    }

    /** Sets up a working redirect and proves it once. */
    private void redirect(Mode m) throws Exception {
        mode = m;
        f = new RedirectFixture();
        f.config.set(0, 1);
        if (m.skMsg()) {
            f.skMsg("redir_send_to_local");
        } else {
            f.skSkb("redir_ingress_to_local", AttachType.SK_SKB_VERDICT);
        }
        src = ConnectedPair.open(Kind.TCP, dir);
        dst = ConnectedPair.open(Kind.TCP, dir);
        src.insert(f.map, 0);
        dst.insert(f.map, 1);
        assertThat(f.map.keys()).containsExactly(0, 1);
        byte[] first = message("redirected");
        send(sender(), first);
        assertArrivesOnlyAt(dst.mapped, first, original());
        assertThat(f.counters.snapshot().redirectedMessages()).isEqualTo(1);
    }

    /** Who writes the data the program redirects: b1 (received by a1) or a1 itself (sk_msg). */
    private int sender() {
        return mode.skMsg() ? src.mapped : src.peer;
    }

    /** Where that data goes without the program: a1 (sk_skb) or b1 (sk_msg). */
    private int original() {
        return mode.skMsg() ? src.peer : src.mapped;
    }

    private static byte[] message(String what) {
        return (what + " #" + SEQ.incrementAndGet()).getBytes(StandardCharsets.US_ASCII);
    }

    private static void send(int fd, byte[] data) {
        assertThat(RawSockets.send(fd, data, 0)).isEqualTo(data.length);
    }

    /** {@code data} is read intact from {@code at}, and nothing is readable on {@code notAt}. */
    private static void assertArrivesOnlyAt(int at, byte[] data, int... notAt) {
        assertThat(RawSockets.readExactly(at, data.length, WAIT_MILLIS)).isEqualTo(data);
        for (int fd : notAt) {
            assertThat(RawSockets.hasData(fd, QUIET_MILLIS)).as("nothing at fd " + fd).isFalse();
        }
        assertThat(RawSockets.hasData(at, 0)).as("nothing more at fd " + at).isFalse();
    }

    /**
     * The target connection works in the direction both modes let through to a2: b2 -> a2 (with
     * sk_skb a2's own verdict redirects it to index 1, which is a2 itself). Nothing appears at
     * {@code alsoQuiet}.
     */
    private void assertTargetConnectionWorks(int... alsoQuiet) {
        byte[] m = message("b2 to a2");
        send(dst.peer, m);
        assertArrivesOnlyAt(dst.mapped, m, alsoQuiet);
    }

    private void assertSlotEmpty(int index) {
        assertThatThrownBy(() -> f.map.cookie(index)).isInstanceOf(KeyNotFoundException.class);
    }

    // ---- (A) close the source ----

    /**
     * (A) Closing a1 removes it from the map at once; b1 reads EOF; the target stays in the map
     * with its cookie and its connection keeps working.
     */
    @ParameterizedTest
    @EnumSource(Mode.class)
    void closingTheSourceRemovesItsEntry(Mode m) throws Exception {
        redirect(m);
        long targetCookie = Sockets.cookie(dst.mapped);
        src.closeMappedEnd();

        assertThat(f.map.keys()).containsExactly(1);
        assertSlotEmpty(0);
        assertThat(f.map.cookie(1)).isEqualTo(targetCookie);
        assertThat(RawSockets.readable(src.peer, WAIT_MILLIS)).isTrue();
        assertThat(RawSockets.recv(src.peer, 16, RawSockets.MSG_DONTWAIT).eof()).as("b1 reads EOF").isTrue();
        assertTargetConnectionWorks(src.peer); // a1's fd is closed: not polled
    }

    // ---- (B) delete the source from the map ----

    /**
     * (B) Deleting index 0 ends the redirect for a1 at once: a fresh write goes to its normal peer
     * and no longer runs the program (the redirect count stays 1); both directions of a1<->b1 work.
     */
    @ParameterizedTest
    @EnumSource(Mode.class)
    void deletingTheSourceRestoresItsConnection(Mode m) throws Exception {
        redirect(m);
        f.map.delete(0);

        assertThat(f.map.keys()).containsExactly(1);
        assertSlotEmpty(0);
        byte[] fresh = message("after delete");
        send(sender(), fresh);
        assertArrivesOnlyAt(original(), fresh, dst.mapped, dst.peer);
        byte[] back = message("reverse");
        send(original(), back);
        assertArrivesOnlyAt(sender(), back, dst.mapped, dst.peer);
        assertThat(f.counters.snapshot().redirectedMessages()).isEqualTo(1);
        assertTargetConnectionWorks(src.mapped, src.peer);
    }

    // ---- (C) close the map, the object and the attachment ----

    /**
     * (C) Closing every handle (attachment, programs, map, counters, config, object) does NOT end
     * the redirect: sockets in the map keep the programs they were inserted with, the programs
     * keep the map, and the map keeps the sockets, so the map stays in the kernel (bpftool still
     * lists it) and a fresh write is still redirected. Deleting the two entries by map id (here
     * with bpftool; sockmap4j has no open-by-id) ends it: traffic flows normally and the kernel
     * frees the map.
     */
    @ParameterizedTest
    @EnumSource(Mode.class)
    void closingEveryHandleLeavesTheRedirectInPlaceUntilTheEntriesGo(Mode m) throws Exception {
        redirect(m);
        int mapId = f.map.id();
        f.close();
        assertThat(f.map.isClosed()).isTrue();

        byte[] still = message("after close");
        send(sender(), still);
        assertArrivesOnlyAt(dst.mapped, still, original());
        assertThat(mapExists(mapId)).as("the kernel keeps map " + mapId).isTrue();

        Exec.check("bpftool", "map", "delete", "id", String.valueOf(mapId), "key", "0", "0", "0", "0");
        Exec.check("bpftool", "map", "delete", "id", String.valueOf(mapId), "key", "1", "0", "0", "0");
        byte[] fresh = message("after delete by id");
        send(sender(), fresh);
        assertArrivesOnlyAt(original(), fresh, dst.mapped, dst.peer);
        assertThat(eventually(() -> !mapExists(mapId), 5000)).as("map " + mapId + " freed").isTrue();
        assertTargetConnectionWorks(src.mapped, src.peer);
    }

    private static boolean mapExists(int id) {
        return Exec.run("bpftool", "map", "show", "id", String.valueOf(id)).exitCode() == 0;
    }

    // ---- (D) connect(AF_UNSPEC) ----

    /**
     * (D) Disconnecting a1 with connect(AF_UNSPEC) resets its connection (b1 reads ECONNRESET,
     * a1's sends fail with ECONNRESET, b1's with EPIPE) but on 6.18 does NOT remove a1 from the
     * map: TCP sockets in a socket map are no longer unhashed on disconnect (the map's unhash hook
     * for TCP was removed in 6.4); the entry, with the same cookie, stays until close or delete.
     * The target connection keeps working.
     */
    @ParameterizedTest
    @EnumSource(Mode.class)
    void disconnectingTheSourceResetsItButKeepsItsEntry(Mode m) throws Exception {
        redirect(m);
        long cookie = f.map.cookie(0);
        assertThat(RawSockets.disconnect(src.mapped)).isZero();

        assertThat(RawSockets.readable(src.peer, WAIT_MILLIS)).isTrue();
        assertThat(RawSockets.recv(src.peer, 16, RawSockets.MSG_DONTWAIT).errno()).isEqualTo(RawSockets.ECONNRESET);
        assertThat(f.map.keys()).containsExactly(0, 1);
        assertThat(f.map.cookie(0)).isEqualTo(cookie);

        long sent = RawSockets.send(sender(), message("into a reset connection"), 0);
        assertThat(sent).isEqualTo(m.skMsg() ? -RawSockets.ECONNRESET : -RawSockets.EPIPE);
        assertThat(RawSockets.hasData(dst.mapped, QUIET_MILLIS)).isFalse();
        assertTargetConnectionWorks(src.mapped, src.peer);

        f.map.delete(0);
        assertThat(f.map.keys()).containsExactly(1);
        assertSlotEmpty(0);
    }

    /**
     * (D) Disconnecting the target a2 resets a2<->b2 (b2 reads ECONNRESET) but a2 stays in the
     * map and stays a valid redirect target (redirect helpers refuse only listening TCP sockets):
     * a fresh write from the source is still redirected into the disconnected a2 and can be read
     * there. Deleting a2's entry makes the source's program redirect into an empty slot (sk_skb:
     * dropped and counted; sk_msg: send fails with EACCES); deleting the source's entry then
     * restores the source connection.
     */
    @ParameterizedTest
    @EnumSource(Mode.class)
    void disconnectingTheTargetKeepsItARedirectTarget(Mode m) throws Exception {
        redirect(m);
        long cookie = f.map.cookie(1);
        assertThat(RawSockets.disconnect(dst.mapped)).isZero();

        assertThat(RawSockets.readable(dst.peer, WAIT_MILLIS)).isTrue();
        assertThat(RawSockets.recv(dst.peer, 16, RawSockets.MSG_DONTWAIT).errno()).isEqualTo(RawSockets.ECONNRESET);
        assertThat(f.map.keys()).containsExactly(0, 1);
        assertThat(f.map.cookie(1)).isEqualTo(cookie);
        byte[] stillRedirected = message("into a disconnected target");
        send(sender(), stillRedirected);
        // a recv on the closed a2 before the (asynchronous, for sk_skb) redirect lands says ENOTCONN
        assertThat(eventually(() -> RawSockets.hasData(dst.mapped, 10), WAIT_MILLIS)).isTrue();
        assertArrivesOnlyAt(dst.mapped, stillRedirected, original());
        assertThat(f.counters.snapshot().redirectedMessages()).isEqualTo(2);

        f.map.delete(1);
        assertThat(f.map.keys()).containsExactly(0);
        assertSlotEmpty(1);
        byte[] lost = message("to an empty slot");
        long sent = RawSockets.send(sender(), lost, 0);
        assertThat(sent).isEqualTo(m.skMsg() ? -RawSockets.EACCES : lost.length);
        assertThat(eventually(() -> f.counters.snapshot().droppedMessages() == 1, WAIT_MILLIS)).isTrue();
        assertThat(f.counters.snapshot().droppedBytes()).isEqualTo(lost.length);
        assertThat(RawSockets.hasData(original(), QUIET_MILLIS)).isFalse();

        f.map.delete(0);
        assertThat(f.map.keys()).isEmpty();
        byte[] fresh = message("after delete");
        send(sender(), fresh);
        assertArrivesOnlyAt(original(), fresh, dst.mapped);
    }
}
