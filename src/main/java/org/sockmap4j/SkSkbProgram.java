package org.sockmap4j;

import java.nio.file.Path;

import org.sockmap4j.internal.sys.Fd;

/**
 * A {@code BPF_PROG_TYPE_SK_SKB} program (Linux 4.14+): runs on data received by sockets of the
 * socket map it is attached to, as a stream parser ({@link AttachType#SK_SKB_STREAM_PARSER}), a
 * verdict on parsed messages ({@link AttachType#SK_SKB_STREAM_VERDICT}) or a verdict on each skb
 * ({@link AttachType#SK_SKB_VERDICT}, Linux 5.13+; also UDP and UNIX). stream_verdict and
 * skb_verdict exclude each other on one map (EBUSY).
 */
public final class SkSkbProgram extends Program {
    SkSkbProgram(Fd fd, String name) {
        super(fd, name);
    }

    @Override
    public ProgramType type() {
        return ProgramType.SK_SKB;
    }

    /** Opens an SK_SKB program pinned on bpffs. */
    public static SkSkbProgram openPinned(Path path) {
        String[] name = new String[1];
        return new SkSkbProgram(openPinned(path, ProgramType.SK_SKB, name), name[0]);
    }

    /**
     * Attaches to the map at {@code type} ({@link AttachMode#AUTO}).
     *
     * @throws IllegalArgumentException if {@code type} is not one of the three SK_SKB attach types
     * @throws IllegalStateException if the map already holds sockets
     */
    public Attachment attach(SocketMap<?> map, AttachType type) {
        return attach(map, type, AttachMode.AUTO);
    }

    /** As {@link #attach(SocketMap, AttachType)}, choosing link or PROG_ATTACH. */
    public Attachment attach(SocketMap<?> map, AttachType type, AttachMode mode) {
        if (type != AttachType.SK_SKB_STREAM_PARSER && type != AttachType.SK_SKB_STREAM_VERDICT
                && type != AttachType.SK_SKB_VERDICT) {
            throw new IllegalArgumentException("SkSkbProgram.attach: " + describe() + " -> " + map.describe() + ": an "
                    + "SK_SKB program attaches as SK_SKB_STREAM_PARSER, SK_SKB_STREAM_VERDICT or SK_SKB_VERDICT, not "
                    + type + "; pass one of those");
        }
        map.requireEmptyForAttach(describe());
        return attach(map.fd, map.describe(), type, mode, 0);
    }
}
