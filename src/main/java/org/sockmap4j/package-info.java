/**
 * Socket maps and the sockets that go in them.
 *
 * <p>{@link org.sockmap4j.SockMap} ({@code BPF_MAP_TYPE_SOCKMAP}, Linux 4.14+) and
 * {@link org.sockmap4j.SockHash} ({@code BPF_MAP_TYPE_SOCKHASH}, Linux 4.18+) hold references to
 * sockets; {@link org.sockmap4j.Sockets} finds the socket behind a JDK channel and receives
 * sockets from other processes. Every kernel object is an {@link java.lang.AutoCloseable} owning
 * one fd; every kernel error is a typed {@link org.sockmap4j.BpfException}. Needs root, or
 * CAP_BPF + CAP_NET_ADMIN (Linux 5.8+).
 */
package org.sockmap4j;
