/**
 * Internal: a small facade over the system libbpf (libbpf1 1.0+, loaded lazily on first use)
 * for opening, loading and inspecting BPF object files. Not exported; do not depend on it.
 */
package org.sockmap4j.internal.libbpf;
