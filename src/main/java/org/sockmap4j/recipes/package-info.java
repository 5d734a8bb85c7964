/**
 * Ready recipes for the SREcon23 talk's use cases, each built on the public low-level API in a
 * few lines: {@link org.sockmap4j.recipes.LocalBypass} (TCP bypass between local sockets of
 * cgroups, outside peers untouched, scoped by {@link org.sockmap4j.recipes.BypassScope}),
 * {@link org.sockmap4j.recipes.EgressPolicy} and
 * {@link org.sockmap4j.recipes.IngressPolicy} (deny peers by CIDR) and
 * {@link org.sockmap4j.recipes.Redirector} (the four redirect modes).
 */
package org.sockmap4j.recipes;
