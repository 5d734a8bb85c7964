/**
 * Ready recipes for the SREcon23 talk's use cases, each built on the public low-level API in a
 * few lines: {@link org.sockmap4j.recipes.LocalBypass} (TCP bypass between local sockets of a
 * cgroup) and {@link org.sockmap4j.recipes.EgressPolicy} (deny destinations by CIDR).
 */
package org.sockmap4j.recipes;
