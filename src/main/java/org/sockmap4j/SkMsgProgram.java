package org.sockmap4j;

import java.nio.file.Path;

import org.sockmap4j.internal.sys.Fd;

/**
 * A {@code BPF_PROG_TYPE_SK_MSG} program (Linux 4.17+): runs at {@code sendmsg} on sockets of
 * the socket map it is attached to ({@code BPF_SK_MSG_VERDICT}) and passes, drops (the sender
 * gets EACCES) or redirects each message. TCP senders only.
 */
public final class SkMsgProgram extends Program {
    SkMsgProgram(Fd fd, String name) {
        super(fd, name);
    }

    @Override
    public ProgramType type() {
        return ProgramType.SK_MSG;
    }

    /** Opens an SK_MSG program pinned on bpffs. */
    public static SkMsgProgram openPinned(Path path) {
        String[] name = new String[1];
        return new SkMsgProgram(openPinned(path, ProgramType.SK_MSG, name), name[0]);
    }

    /**
     * Attaches as the map's msg_verdict program ({@link AttachMode#AUTO}).
     *
     * @throws IllegalStateException if the map already holds sockets: the kernel applies programs
     *     only to sockets inserted after they were attached
     */
    public Attachment attach(SocketMap<?> map) {
        return attach(map, AttachMode.AUTO);
    }

    /** As {@link #attach(SocketMap)}, choosing link or PROG_ATTACH. */
    public Attachment attach(SocketMap<?> map, AttachMode mode) {
        map.requireEmptyForAttach(describe());
        return attach(map.fd, map.describe(), AttachType.SK_MSG_VERDICT, mode, 0);
    }
}
