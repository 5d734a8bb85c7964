/**
 * Test harness for sockmap4j: {@link org.sockmap4j.testing.Privileged} tests, bpffs
 * ({@link org.sockmap4j.testing.BpfFs}, {@link org.sockmap4j.testing.TempBpfDir}), cgroup v2
 * ({@link org.sockmap4j.testing.Cgroups}, {@link org.sockmap4j.testing.TestCgroup}), network
 * namespaces ({@link org.sockmap4j.testing.NetNs}), fd-leak checks
 * ({@link org.sockmap4j.testing.FdLeakCheck}) and second JVMs
 * ({@link org.sockmap4j.testing.ChildProcess}). Every helper is {@link java.lang.AutoCloseable}
 * and cleans up in {@code close()}, so a test that fails still leaves nothing behind when it uses
 * try-with-resources or the JUnit extensions.
 */
package org.sockmap4j.testing;
