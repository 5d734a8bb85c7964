package org.sockmap4j.splice;

import org.sockmap4j.SplicePolicy;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link IntegrityTest} with every pair spliced at once. */
class IntegrityAlwaysSpliceTest extends IntegrityTest {
    @Override
    SplicePolicy policy() {
        return SplicePolicy.always();
    }

    @Override
    void assertSpliced(long spliced) {
        assertThat(spliced).as("pairs that went to the kernel").isEqualTo(CONNECTIONS);
    }
}
