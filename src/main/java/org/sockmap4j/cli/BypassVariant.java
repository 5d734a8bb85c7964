package org.sockmap4j.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.sockmap4j.Cgroup;
import org.sockmap4j.recipes.BypassScope;
import org.sockmap4j.recipes.LocalBypass;

/**
 * The ways {@code bench bypass} runs a measurement: without any bypass, with {@link LocalBypass}
 * on the bench's cgroups, and with the talk's {@link OldBypass} (only on one cgroup).
 */
enum BypassVariant {
    NONE("without"),
    LOCAL("LocalBypass"),
    OLD("old bypass");

    private final String label;

    BypassVariant(String label) {
        this.label = label;
    }

    String label() {
        return label;
    }

    /** A bypass attached for one run; {@link #close()} detaches it and its cgroup handles. */
    interface Attached extends AutoCloseable {
        /** Its counters so far. */
        BypassCounts counts();

        @Override
        void close();
    }

    /** Attaches this variant to {@code cgroups} (NONE: attaches nothing, counts zero). */
    Attached attach(List<Path> cgroups) {
        if (this == NONE) {
            return new Attached() {
                @Override
                public BypassCounts counts() {
                    return BypassCounts.ZERO;
                }

                @Override
                public void close() {}
            };
        }
        List<Cgroup> open = new ArrayList<>();
        try {
            for (Path p : cgroups) {
                open.add(Cgroup.open(p));
            }
            if (this == OLD) {
                if (open.size() != 1) {
                    throw new IllegalArgumentException("the old bypass takes one cgroup");
                }
                OldBypass old = OldBypass.attach(open.get(0));
                return attached(old::counts, old, open);
            }
            LocalBypass.Builder b = LocalBypass.builder().scope(BypassScope.all());
            open.forEach(b::cgroup);
            LocalBypass local = b.attach();
            return attached(() -> BypassCounts.of(local.stats()), local, open);
        } catch (RuntimeException e) {
            open.forEach(Cgroup::close);
            throw e;
        }
    }

    private static Attached attached(java.util.function.Supplier<BypassCounts> counts, AutoCloseable bypass,
            List<Cgroup> cgroups) {
        return new Attached() {
            @Override
            public BypassCounts counts() {
                return counts.get();
            }

            @Override
            public void close() {
                try {
                    bypass.close();
                } catch (Exception e) {
                    throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
                } finally {
                    cgroups.forEach(Cgroup::close);
                }
            }
        };
    }
}
