package org.sockmap4j.programs;

import java.nio.file.Path;

import org.sockmap4j.AttachType;
import org.sockmap4j.ConnectionKey;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SockHash;

/**
 * Run as a child JVM by {@link PinnedObjectsTest}: opens the SOCKHASH pinned at {@code args[0]}
 * and the SK_MSG program pinned at {@code args[1]}, prints {@code map ID}, {@code prog ID} and
 * {@code attached ID...} (the map's SK_MSG_VERDICT programs), closes both and exits 0.
 */
public final class PinnedObjectsPeer {
    private PinnedObjectsPeer() {}

    public static void main(String[] args) {
        try (SockHash<ConnectionKey> hash = SockHash.openPinned(Path.of(args[0]), ConnectionKey.codec());
             SkMsgProgram prog = SkMsgProgram.openPinned(Path.of(args[1]))) {
            System.out.println("map " + hash.id());
            System.out.println("prog " + prog.id());
            StringBuilder attached = new StringBuilder("attached");
            for (int id : hash.attachedPrograms(AttachType.SK_MSG_VERDICT)) {
                attached.append(' ').append(id);
            }
            System.out.println(attached);
            System.out.flush();
        }
    }
}
