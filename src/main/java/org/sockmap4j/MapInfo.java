package org.sockmap4j;

/**
 * What the kernel says about a map ({@code BPF_OBJ_GET_INFO_BY_FD}, {@code struct bpf_map_info};
 * Linux 4.13+).
 *
 * @param id the map's id, unique while it exists (as in {@code bpftool map show id N})
 * @param type its type
 * @param typeValue the kernel's number for the type
 * @param name its name (up to 15 characters)
 * @param keySize key size in bytes
 * @param valueSize value size in bytes
 * @param maxEntries capacity
 * @param flags map_flags
 */
public record MapInfo(int id, MapType type, int typeValue, String name, int keySize, int valueSize, int maxEntries,
        int flags) {}
