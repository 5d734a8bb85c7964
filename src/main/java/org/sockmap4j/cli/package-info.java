/**
 * The {@code sockmap} command-line tool (picocli): probe, bypass, policy, proxy, map dump and
 * bench. Not exported: a tool, not an API. Unlike the library it may exit and run other programs
 * ({@code ip}, {@code sockperf}, {@code taskset}).
 */
package org.sockmap4j.cli;
