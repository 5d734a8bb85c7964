/**
 * Internal: the bpf(2) syscall, owned fds and per-thread native memory. Not exported; do not
 * depend on it.
 */
package org.sockmap4j.internal.sys;
