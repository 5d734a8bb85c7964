package org.sockmap4j;

import java.time.Duration;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** SplicePolicy's values and the arguments it refuses (no kernel involved). */
class SplicePolicyTest {
    @Test
    void autoSplicesAfter64KibOr100Ms() {
        assertThat(SplicePolicy.auto()).isEqualTo(new SplicePolicy(65_536, Duration.ofMillis(100)));
        assertThat(SplicePolicy.auto().immediate()).isFalse();
    }

    @Test
    void alwaysAndZeroLimitsAreImmediate() {
        assertThat(SplicePolicy.always().immediate()).isTrue();
        assertThat(SplicePolicy.after(0, Duration.ofSeconds(1)).immediate()).isTrue();
        assertThat(SplicePolicy.after(1, Duration.ZERO).immediate()).isTrue();
    }

    @Test
    void negativeLimitsAreRefused() {
        assertThatThrownBy(() -> SplicePolicy.after(-1, Duration.ZERO)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("bytes must be >= 0, got -1");
        assertThatThrownBy(() -> SplicePolicy.after(1, Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("age must be >= 0");
        assertThatThrownBy(() -> SplicePolicy.after(1, null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void theBuilderRefusesANegativeTargetSendBuffer() {
        assertThatThrownBy(() -> Splicer.builder().targetSendBuffer(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("targetSendBuffer must be >= 0, got -1");
    }
}
