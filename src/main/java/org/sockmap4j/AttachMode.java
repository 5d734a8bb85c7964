package org.sockmap4j;

/**
 * How an {@link Attachment} is made. {@link #AUTO} prefers a BPF link (cgroup links: Linux 5.7+;
 * socket map links: Linux 6.10+) and falls back to {@code BPF_PROG_ATTACH} when the kernel answers
 * that it has no such link; the other two force one way.
 */
public enum AttachMode {
    /** A link when the kernel has one, else PROG_ATTACH. */
    AUTO,
    /** {@code BPF_LINK_CREATE} only; fails on kernels without the link type. */
    LINK,
    /** {@code BPF_PROG_ATTACH} only (detached with {@code BPF_PROG_DETACH} on close). */
    PROG_ATTACH
}
