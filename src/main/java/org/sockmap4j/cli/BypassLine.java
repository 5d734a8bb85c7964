package org.sockmap4j.cli;

/**
 * One line of the {@code bench bypass} table: a row ("outside", "local", "nginx-1k", ...), what
 * was measured, the figure without a bypass, with LocalBypass, with the old bypass (NaN where it
 * was not run), each the median over the rounds, and the target for LocalBypass.
 */
record BypassLine(String row, String measure, double without, double local, double old, BypassTarget target) {
    /** LocalBypass against no bypass, in percent; NaN when there is nothing to compare. */
    double localChange() {
        return change(without, local);
    }

    /** The old bypass against no bypass, in percent. */
    double oldChange() {
        return change(without, old);
    }

    Boolean met() {
        return target.met(without, local);
    }

    private static double change(double before, double after) {
        return before == 0 || Double.isNaN(before) || Double.isNaN(after) ? Double.NaN : (after - before) * 100 / before;
    }
}
