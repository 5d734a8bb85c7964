/**
 * Internal: libc socket calls, socket addresses and fd passing. Not exported; do not
 * depend on it.
 */
package org.sockmap4j.internal.unix;
