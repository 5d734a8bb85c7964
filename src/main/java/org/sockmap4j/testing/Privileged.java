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
 * is {@code true}, in which case it fails.
 */
@Documented
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
@Tag("privileged")
@ExtendWith(PrivilegedExtension.class)
public @interface Privileged {
}
