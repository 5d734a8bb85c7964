package org.sockmap4j.cli;

/**
 * What a {@code bench bypass} figure should be with LocalBypass, relative to the same figure
 * without a bypass: at least or at most a percentage of it, or (for error counts) zero.
 */
record BypassTarget(Kind kind, double percent) {
    enum Kind { NONE, AT_LEAST, AT_MOST, ZERO }

    static final BypassTarget NONE = new BypassTarget(Kind.NONE, 0);
    static final BypassTarget ZERO = new BypassTarget(Kind.ZERO, 0);

    /** With LocalBypass at least {@code percent} % of the figure without. */
    static BypassTarget atLeast(double percent) {
        return new BypassTarget(Kind.AT_LEAST, percent);
    }

    /** With LocalBypass at most {@code percent} % of the figure without. */
    static BypassTarget atMost(double percent) {
        return new BypassTarget(Kind.AT_MOST, percent);
    }

    /** As printed: ">=97%", "<=81.5%", "=0", "-". */
    String text() {
        return switch (kind) {
            case NONE -> "-";
            case ZERO -> "=0";
            case AT_LEAST -> ">=" + fmt(percent) + "%";
            case AT_MOST -> "<=" + fmt(percent) + "%";
        };
    }

    private static String fmt(double p) {
        return p == Math.rint(p) ? Long.toString((long) p) : Double.toString(p);
    }

    /** Whether {@code with} (LocalBypass) meets the target against {@code without}; null if there is none. */
    Boolean met(double without, double with) {
        return switch (kind) {
            case NONE -> null;
            case ZERO -> with == 0;
            case AT_LEAST -> with * 100 >= percent * without;
            case AT_MOST -> with * 100 <= percent * without;
        };
    }
}
