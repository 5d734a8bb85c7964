package org.sockmap4j.testing;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Marks a test class or method that needs the privileges to create BPF objects and to set up
 * network namespaces, cgroups and bpffs mounts: root, or at least {@code CAP_BPF} (or
 * {@code CAP_SYS_ADMIN}) plus {@code CAP_NET_ADMIN} in the effective set.
 *
 * <p>The test is tagged {@code privileged} and guarded by {@link PrivilegedExtension}: without
 * those privileges it is skipped, unless the system property {@code sockmap4j.requirePrivileged}
 * is {@code true}, in which case it fails. A {@link org.sockmap4j.NotSupportedException} naming a
 * kernel feature the probes report missing skips it (see {@link KernelFeatureExtension}).
 */
@Documented
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
@Tag("privileged")
@ExtendWith({PrivilegedExtension.class, KernelFeatureExtension.class})
public @interface Privileged {
}
