package org.sockmap4j;

import org.sockmap4j.internal.sys.Bpf;
import org.sockmap4j.internal.sys.Fd;
import org.sockmap4j.internal.sys.Scratch;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * A {@code BPF_MAP_TYPE_LPM_TRIE} (Linux 4.11+) of IPv4 or IPv6 prefixes, as the bundled policy
 * programs use for their deny lists. Keys are {@code struct { __u32 prefixlen; __u8 addr[4 or 16]; }}
 * (address in network order); values are one byte. Edits take effect for the next message the
 * program sees, with no re-attach. Owns one map fd.
 */
public final class LpmTrie implements AutoCloseable {
    private final Fd fd;
    private final String name;
    private final int addrLen;
    private final int valueSize;

    LpmTrie(Fd fd, String name, int keySize, int valueSize) {
        if (keySize != 8 && keySize != 20) {
            fd.close();
            throw new IllegalArgumentException("LPM trie '" + name + "' has " + keySize
                    + "-byte keys; an IPv4 trie has 8, an IPv6 one 20");
        }
        this.fd = fd;
        this.name = name;
        this.addrLen = keySize - 4;
        this.valueSize = valueSize;
    }

    /** 4 for an IPv4 trie, 16 for IPv6. */
    public int addressLength() {
        return addrLen;
    }

    /** Adds {@code cidr} ("192.0.2.0/24", "2001:db8::/32", or one address). */
    public void add(String cidr) {
        Cidr c = Cidr.parse(cidr);
        Scratch s = Scratch.get();
        key(s, c);
        s.value.asSlice(0, valueSize).fill((byte) 1);
        int mapFd = fd.acquire();
        long r;
        try {
            r = Bpf.mapUpdate(s, mapFd, 0);
        } finally {
            fd.release();
        }
        if (r < 0) {
            throw Errors.of("BPF_MAP_UPDATE_ELEM", describe() + " (" + c + ")", (int) -r, Errors.Op.GENERIC);
        }
    }

    /** Removes {@code cidr}; true if it was there. */
    public boolean remove(String cidr) {
        Cidr c = Cidr.parse(cidr);
        Scratch s = Scratch.get();
        key(s, c);
        int mapFd = fd.acquire();
        long r;
        try {
            r = Bpf.mapDelete(s, mapFd);
        } finally {
            fd.release();
        }
        if (r == -Errno.ENOENT.code()) {
            return false;
        }
        if (r < 0) {
            throw Errors.of("BPF_MAP_DELETE_ELEM", describe() + " (" + c + ")", (int) -r, Errors.Op.DELETE);
        }
        return true;
    }

    /** Whether {@code address} falls in a prefix of the trie (longest-prefix match, as the program). */
    public boolean matches(String address) {
        Cidr c = Cidr.parse(address);
        Scratch s = Scratch.get();
        key(s, new Cidr(c.address(), addrLen * 8));
        int mapFd = fd.acquire();
        long r;
        try {
            r = Bpf.mapLookup(s, mapFd);
        } finally {
            fd.release();
        }
        if (r == -Errno.ENOENT.code()) {
            return false;
        }
        if (r < 0) {
            throw Errors.of("BPF_MAP_LOOKUP_ELEM", describe() + " (" + address + ")", (int) -r, Errors.Op.LOOKUP);
        }
        return true;
    }

    private void key(Scratch s, Cidr c) {
        byte[] a = c.address().getAddress();
        if (a.length != addrLen) {
            throw new IllegalArgumentException(c + " is " + (a.length == 4 ? "IPv4" : "IPv6") + " but " + describe()
                    + " holds " + (addrLen == 4 ? "IPv4" : "IPv6") + " prefixes");
        }
        s.key.set(JAVA_INT, 0, c.prefix());
        for (int i = 0; i < addrLen; i++) {
            s.key.set(JAVA_BYTE, 4 + i, a[i]);
        }
    }

    private String describe() {
        return "LPM trie '" + name + "'";
    }

    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return describe() + (fd.isClosed() ? " (closed)" : "");
    }
}
