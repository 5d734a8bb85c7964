/**
 * Test support for code that uses sockmap4j, the same helpers the project's own privileged
 * tests use: {@link org.sockmap4j.testing.Privileged} tests (skipped without root, or failing
 * when {@code -Dsockmap4j.requirePrivileged=true}), skip-or-fail by kernel feature
 * ({@link org.sockmap4j.testing.KernelAssume}: a probe that says "missing" on a kernel version
 * that has the feature fails the test), bpffs ({@link org.sockmap4j.testing.BpfFs},
 * {@link org.sockmap4j.testing.TempBpfDir}), a temporary cgroup v2 directory
 * ({@link org.sockmap4j.testing.Cgroups}, {@link org.sockmap4j.testing.TestCgroup}), a pair of
 * network namespaces joined by veth with code running inside either
 * ({@link org.sockmap4j.testing.NetNs}), fd-leak checks ({@link org.sockmap4j.testing.FdLeakCheck})
 * and second JVMs ({@link org.sockmap4j.testing.ChildProcess}). Every helper is
 * {@link java.lang.AutoCloseable} and cleans up in {@code close()}, so a failing test still leaves
 * nothing behind when it uses try-with-resources or the JUnit extensions.
 *
 * <p>JUnit 5 (junit-jupiter-api) is an optional dependency of sockmap4j: add it to your test
 * scope to use this package. Needs Linux with cgroup v2, bpffs and iproute2 ({@code ip}); the
 * privileged helpers need root (or CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN).
 */
package org.sockmap4j.testing;
