/**
 * Reliability and security properties, each proved against the kernel: no leaks over long
 * loops, what survives a killed process, closing order, the Cleaner backstop, socket, peer,
 * cgroup and bpffs faults, pin permissions and what an unprivileged caller gets. Described, with
 * counts and results, in {@code docs/reliability.md}. All tests here are privileged; the
 * {@code *Peer} classes run in child JVMs.
 */
package org.sockmap4j.reliability;
