/**
 * A Netty 4.2 adapter for kernel-spliced proxying: {@link org.sockmap4j.netty.NettySplicer} hands
 * two native-epoll channels ({@code EpollSocketChannel}) to a {@link org.sockmap4j.Splicer} once
 * the pipeline has done its work (read a header, authenticated, connected upstream), after which
 * the kernel moves every byte each way (SK_SKB verdict, Linux 5.13+ for skb_verdict).
 *
 * <p>Netty is an optional dependency of sockmap4j: only this package uses it, and an application
 * that uses this package adds {@code io.netty:netty-transport-classes-epoll} and
 * {@code io.netty:netty-transport-native-epoll} (classifier {@code linux-x86_64}), version
 * 4.2.18.Final or a compatible 4.2, itself.
 */
package org.sockmap4j.netty;
