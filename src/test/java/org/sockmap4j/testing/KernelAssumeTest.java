package org.sockmap4j.testing;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Kernel release comparison used to catch broken probes (no privileges needed). */
class KernelAssumeTest {
    @Test
    void comparesMajorAndMinorOfKernelReleases() {
        assertThat(KernelAssume.atLeast("6.18.44-fc-v1272", "5.13")).isTrue();
        assertThat(KernelAssume.atLeast("6.1.0-18-amd64", "6.10")).isFalse();
        assertThat(KernelAssume.atLeast("6.10.2", "6.10")).isTrue();
        assertThat(KernelAssume.atLeast("5.10.0-30-amd64", "5.13")).isFalse();
        assertThat(KernelAssume.atLeast("5.15.0", "4.14")).isTrue();
        assertThat(KernelAssume.atLeast("4.19.0", "5.7")).isFalse();
    }
}
