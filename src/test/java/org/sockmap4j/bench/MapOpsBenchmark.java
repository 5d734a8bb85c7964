package org.sockmap4j.bench;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.sockmap4j.UpdateFlag;

/**
 * put, replace, remove and cookie lookup of one TCP socket, on a SOCKMAP, a u32 SOCKHASH and a
 * 4-tuple SOCKHASH. put and remove need the key empty (full) before each call: that set-up runs
 * per invocation, untimed, and the C baseline does the same. putRemove times the two as one
 * call, without JMH's per-invocation machinery (a steadier measure of the same work).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class MapOpsBenchmark {
    /** One connection and one map of the kind under test, for the whole trial; the states below add their set-up. */
    @State(Scope.Thread)
    public abstract static class MapState {
        @Param({Fixture.SOCKMAP, Fixture.SOCKHASH_U32, Fixture.SOCKHASH_TUPLE})
        public String map;
        Fixture f;

        @Setup(Level.Trial)
        public void open() throws IOException {
            f = new Fixture(map);
        }

        @TearDown(Level.Trial)
        public void close() throws IOException {
            f.close();
        }
    }

    /** The key is empty before each timed put. */
    @State(Scope.Thread)
    public static class Empty extends MapState {
        @Setup(Level.Invocation)
        public void empty() {
            try {
                f.remove();
            } catch (RuntimeException notThere) {
                // first invocation: already empty
            }
        }
    }

    /** The key holds the socket before each timed remove. */
    @State(Scope.Thread)
    public static class Full extends MapState {
        @Setup(Level.Invocation)
        public void fill() {
            f.put(UpdateFlag.ANY);
        }
    }

    /** The key holds the socket for the whole trial. */
    @State(Scope.Thread)
    public static class Steady extends MapState {
        @Setup(Level.Trial)
        public void insert() {
            f.put(UpdateFlag.ANY);
        }
    }

    /** The key is empty at the start; each timed call puts and removes, so it is empty again. */
    @State(Scope.Thread)
    public static class Cycle extends MapState {
    }

    @Benchmark
    public void put(Empty s) {
        s.f.put(UpdateFlag.NOEXIST);
    }

    @Benchmark
    public void remove(Full s) {
        s.f.remove();
    }

    @Benchmark
    public void replace(Steady s) {
        s.f.put(UpdateFlag.EXIST);
    }

    /** put and remove back to back, with no per-call set-up for the harness to time around. */
    @Benchmark
    public void putRemove(Cycle s) {
        s.f.put(UpdateFlag.NOEXIST);
        s.f.remove();
    }

    @Benchmark
    public long lookup(Steady s) {
        return s.f.cookie();
    }
}
