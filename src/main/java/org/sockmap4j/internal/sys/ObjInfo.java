package org.sockmap4j.internal.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

import org.sockmap4j.internal.gen.bpf.bpf_link_info;
import org.sockmap4j.internal.gen.bpf.bpf_map_info;
import org.sockmap4j.internal.gen.bpf.bpf_prog_info;

/** BPF_OBJ_GET_INFO_BY_FD for maps, decoded. */
public final class ObjInfo {
    private ObjInfo() {}

    /** Raw map info fields. */
    public record Map(int id, int type, String name, int keySize, int valueSize, int maxEntries, int flags) {}

    /** The info of map {@code fd}; {@code errno[0]} receives the errno when null is returned. */
    public static Map map(int fd, int[] errno) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = arena.allocate(bpf_map_info.layout());
            long r = Bpf.objGetInfoByFd(fd, info);
            if (r < 0) {
                errno[0] = (int) -r;
                return null;
            }
            return new Map(bpf_map_info.id(info), bpf_map_info.type(info), cString(bpf_map_info.name(info)),
                    bpf_map_info.key_size(info), bpf_map_info.value_size(info), bpf_map_info.max_entries(info),
                    bpf_map_info.map_flags(info));
        }
    }

    static String cString(MemorySegment s) {
        byte[] b = s.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        int n = 0;
        while (n < b.length && b[n] != 0) {
            n++;
        }
        return new String(b, 0, n, StandardCharsets.US_ASCII);
    }

    /** Raw program info fields. */
    public record Prog(int id, int type, String name) {}

    /** The info of program {@code fd}, or null with the errno in {@code errno[0]}. */
    public static Prog prog(int fd, int[] errno) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = arena.allocate(bpf_prog_info.layout());
            long r = Bpf.objGetInfoByFd(fd, info);
            if (r < 0) {
                errno[0] = (int) -r;
                return null;
            }
            return new Prog(bpf_prog_info.id(info), bpf_prog_info.type(info), cString(bpf_prog_info.name(info)));
        }
    }

    /** Raw link info fields. */
    public record Link(int id, int type, int progId) {}

    /** The info of link {@code fd}, or null with the errno in {@code errno[0]}. */
    public static Link link(int fd, int[] errno) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = arena.allocate(bpf_link_info.layout());
            long r = Bpf.objGetInfoByFd(fd, info);
            if (r < 0) {
                errno[0] = (int) -r;
                return null;
            }
            return new Link(bpf_link_info.id(info), bpf_link_info.type(info), bpf_link_info.prog_id(info));
        }
    }
}
