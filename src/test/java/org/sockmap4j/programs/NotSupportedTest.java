package org.sockmap4j.programs;

import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.AttachMode;
import org.sockmap4j.AttachType;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfObject;
import org.sockmap4j.KernelFeatures;
import org.sockmap4j.KernelFeatures.Feature;
import org.sockmap4j.NotSupportedException;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SkSkbProgram;
import org.sockmap4j.SockMap;
import org.sockmap4j.Splicer;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What the library does with a feature the running kernel lacks: it throws
 * {@link NotSupportedException} naming the feature and the kernel that brings it, and leaves
 * nothing attached; where the kernel has the feature, the same call works. Each test checks
 * whichever of the two the probe predicts, so it runs (and can fail) on every kernel: on 6.18 the
 * first half, on 5.10 the second.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(60)
class NotSupportedTest {
    private BpfObject obj;
    private SockMap map;
    private SkMsgProgram msgPass;
    private SkSkbProgram skbPass;

    @BeforeEach
    void load() {
        obj = BpfObject.openBundled("redirect").load();
        map = obj.sockMap("sock_map");
        msgPass = obj.skMsg("msg_pass");
        skbPass = obj.skSkb("skb_pass");
    }

    @AfterEach
    void close() {
        skbPass.close();
        msgPass.close();
        map.close();
        obj.close();
    }

    private static boolean has(Feature f) {
        return KernelFeatures.probe().has(f);
    }

    private static void assertNotSupported(Throwable t, Feature f) {
        assertThat(t).isInstanceOfSatisfying(NotSupportedException.class, e -> {
            assertThat(e.kernelFeature()).contains(f);
            assertThat(e.getMessage()).contains(f.description()).contains("needs Linux " + f.since() + "+");
        });
    }

    @Test
    void aSocketMapLinkIsMadeOrNamedAsMissing() {
        if (has(Feature.SOCKMAP_LINK)) {
            try (Attachment a = msgPass.attach(map, AttachMode.LINK)) {
                assertThat(a.isLink()).isTrue();
                assertThat(a.linkId()).isPositive();
            }
        } else {
            assertNotSupported(catchThrowable(() -> msgPass.attach(map, AttachMode.LINK)),
                    Feature.SOCKMAP_LINK);
        }
        // AUTO falls back to PROG_ATTACH where there is no link, and works everywhere
        try (Attachment a = msgPass.attach(map)) {
            assertThat(a.isLink()).isEqualTo(has(Feature.SOCKMAP_LINK));
        }
    }

    @Test
    void skSkbVerdictAttachesOrIsNamedAsMissing() {
        if (has(Feature.ATTACH_SK_SKB_VERDICT)) {
            try (Attachment a = skbPass.attach(map, AttachType.SK_SKB_VERDICT, AttachMode.PROG_ATTACH)) {
                assertThat(a.attachType()).isEqualTo(AttachType.SK_SKB_VERDICT);
            }
        } else {
            assertNotSupported(catchThrowable(() -> skbPass.attach(map, AttachType.SK_SKB_VERDICT,
                    AttachMode.PROG_ATTACH)), Feature.ATTACH_SK_SKB_VERDICT);
        }
        // nothing was left attached: a stream verdict (same slot) attaches
        try (Attachment a = skbPass.attach(map, AttachType.SK_SKB_STREAM_VERDICT,
                AttachMode.PROG_ATTACH)) {
            assertThat(a.attachType()).isEqualTo(AttachType.SK_SKB_STREAM_VERDICT);
        }
    }

    @Test
    void progQueryOnASocketMapAnswersOrIsNamedAsMissing() {
        try (Attachment a = msgPass.attach(map, AttachMode.PROG_ATTACH)) {
            if (has(Feature.PROG_QUERY_SOCKMAP)) {
                List<Integer> ids = map.attachedPrograms(AttachType.SK_MSG_VERDICT);
                assertThat(ids).containsExactly(msgPass.id());
            } else {
                assertNotSupported(catchThrowable(() -> map.attachedPrograms(AttachType.SK_MSG_VERDICT)),
                        Feature.PROG_QUERY_SOCKMAP);
            }
        }
    }

    @Test
    void theSplicerPicksAFramingTheKernelHas() {
        try (Splicer s = Splicer.create()) {
            assertThat(s.framing()).isEqualTo(has(Feature.ATTACH_SK_SKB_VERDICT)
                    ? Splicer.Framing.SKB_VERDICT : Splicer.Framing.STREAM_PARSER);
        }
        if (!has(Feature.ATTACH_SK_SKB_VERDICT)) {
            assertThatThrownBy(() -> Splicer.builder().framing(Splicer.Framing.SKB_VERDICT).create())
                    .satisfies(t -> assertNotSupported(t, Feature.ATTACH_SK_SKB_VERDICT));
        }
    }

    @Test
    void requireNamesTheFeatureOrPasses() {
        KernelFeatures k = KernelFeatures.probe();
        for (Feature f : Feature.values()) {
            if (k.has(f)) {
                k.require(f);
            } else {
                assertNotSupported(catchThrowable(() -> k.require(f)), f);
                assertThat(k.all().get(f).detail()).as("one line for sockmap probe's table").doesNotContain("\n");
            }
        }
    }

    private static Throwable catchThrowable(org.assertj.core.api.ThrowableAssert.ThrowingCallable c) {
        Throwable t = org.assertj.core.api.Assertions.catchThrowable(c);
        assertThat(t).as("the call should have failed").isNotNull();
        return t;
    }
}
