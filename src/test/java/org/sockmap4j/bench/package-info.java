/**
 * JMH benchmarks of the control plane (map operations, iteration, loading, attaching), run by
 * {@code scripts/bench-ops.sh} next to a C libbpf baseline ({@code src/test/c/bench_ops.c}) doing
 * the same operations timed the same way. Not tests: Surefire does not pick them up.
 */
package org.sockmap4j.bench;
