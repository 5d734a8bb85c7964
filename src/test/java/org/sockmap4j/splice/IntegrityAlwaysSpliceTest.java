package org.sockmap4j.splice;

import org.sockmap4j.SplicePolicy;

/** {@link IntegrityTest} with every pair spliced at once. */
class IntegrityAlwaysSpliceTest extends IntegrityTest {
    @Override
    SplicePolicy policy() {
        return SplicePolicy.always();
    }
}
