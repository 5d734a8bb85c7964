package org.sockmap4j.splice;

import org.sockmap4j.SplicePolicy;

/** {@link EndingsTest} with every pair spliced at once: the endings as the kernel path sees them. */
class EndingsAlwaysSpliceTest extends EndingsTest {
    @Override
    SplicePolicy policy() {
        return SplicePolicy.always();
    }
}
